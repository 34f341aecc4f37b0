"""The local API gateway: an ASGI app that answers as the deployed REST API would.

Everything it decides comes from the :class:`DeployedApi` read back from the emulator. The order
of checks is API Gateway's: the stage's WAF web ACL (its per-IP rate rules, web_acl.py) → route →
API key → throttling → request validation → integration.
A Lambda proxy event is the REST (payload 1.0) shape; a function's answer is checked as API
Gateway checks it (malformed → 502, timed out → 504; throttled → INTEGRATION_FAILURE, at the status and with
the headers the deployed gateway response gives it -- API Gateway's 500 where none is deployed).
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import jsonschema

from payments_platform.core.local.apigw.deployed_api import DEFAULT_STATUS, DeployedApi, Method, Throttle
from payments_platform.core.local.apigw.web_acl import RateLimiter
from payments_platform.core.local.asgi import BodyTooLarge, Receive, Scope, Send, read_body, send_response
from payments_platform.core.local.lambdafn.service import (
    FunctionFailed,
    FunctionThrottled,
    FunctionTimedOut,
    InvokeError,
)

# API Gateway's payload limit for REST APIs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
ACCOUNT_ID = "123456789012"
PROXY_RESPONSE_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}

Invoker = Callable[[str, bytes, str], Awaitable[bytes]]
AccessLog = Callable[[str], None]


class TokenBucket:
    """API Gateway's throttle: ``rate`` requests per second steady state, ``burst`` at once."""

    def __init__(self, throttle: Throttle, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = throttle.rate
        self.capacity = max(1.0, float(throttle.burst))
        self.tokens = self.capacity
        self._clock = clock
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
        self._last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class GatewayError(Exception):
    """A response API Gateway produces itself (a gateway response type)."""

    response_type: str
    message: str
    default_status: int | None = None
    validation_error: str = ""


class LocalGateway:
    def __init__(
        self,
        api: DeployedApi,
        invoke: Invoker,
        *,
        access_log: AccessLog | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self._invoke = invoke
        self._access_log = access_log
        self._clock = clock
        self._method_buckets: dict[tuple[str, str], TokenBucket] = {}
        self._key_buckets: dict[str, TokenBucket] = {}
        self._validators = {name: jsonschema.Draft4Validator(schema) for name, schema in api.models.items()}
        self.waf = RateLimiter(api.web_acl, clock) if api.web_acl is not None else None

    # -- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        context: dict[str, Any] = {"requestId": request_id, "stage": self.api.stage, "apiId": self.api.id}
        try:
            status, headers, body = await self._handle(scope, receive, request_id, context)
        except GatewayError as error:
            status, headers, body = self._gateway_response(error, context)
        headers = [*headers, (b"x-amzn-requestid", request_id.encode())]
        await send_response(send, status, body, headers=headers)
        if self._access_log is not None:
            query = f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
            # Like the deployed access log: who called what and how it went, never bodies or keys.
            self._access_log(
                f"{scope['method']} {scope['path']}{' (query)' if query else ''} → {status} "
                f"{(time.perf_counter() - started) * 1000:.0f} ms {context.get('responseType', '')} "
                f"{context.get('wafRule', '')}".rstrip()
            )

    async def _handle(
        self, scope: Scope, receive: Receive, request_id: str, context: dict[str, Any]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        # WAF sees every request to the stage before API Gateway routes it.
        if self.waf is not None and (rule := self.waf.blocking_rule((scope.get("client") or ("127.0.0.1", 0))[0])):
            context["wafRule"] = rule
            raise GatewayError("WAF_FILTERED", "Forbidden")
        method_name = scope["method"]
        resource_path = self._resource_path(scope["path"])
        method = self.api.methods.get((resource_path, method_name)) if resource_path else None
        if method is None:
            # API Gateway answers an unknown path or method with 403 "Missing Authentication Token".
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        context.update(resourcePath=method.resource_path, httpMethod=method.http_method)
        try:
            body = await read_body(receive, limit=MAX_PAYLOAD_BYTES)
        except BodyTooLarge:
            raise GatewayError(
                "REQUEST_TOO_LARGE", f"HTTP content length exceeded {MAX_PAYLOAD_BYTES} bytes."
            ) from None
        headers = _headers(scope)
        query = parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True)

        if method.integration_type == "MOCK":
            return method.mock_status, [(k.encode(), v.encode()) for k, v in method.mock_headers.items()], b""

        api_key = self._check_api_key(method, headers)
        self._throttle(method, api_key)
        self._validate(method, headers, query, body)
        event = self._event(scope, method, headers, query, body, request_id, api_key)
        trace_id = _trace_id() if self.api.tracing_enabled else ""
        if trace_id:
            event["headers"]["X-Amzn-Trace-Id"] = trace_id
            event["multiValueHeaders"]["X-Amzn-Trace-Id"] = [trace_id]
        assert method.function_name is not None
        try:
            raw = await self._invoke(method.function_name, json.dumps(event).encode(), trace_id)
        except FunctionTimedOut:
            raise GatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out") from None
        except FunctionThrottled:
            # Lambda's 429 reaches the client as API Gateway's INTEGRATION_FAILURE: status 500 unless the
            # deployed gateway response for that type sets one (ours: 503 + Retry-After).
            raise GatewayError("INTEGRATION_FAILURE", "Internal server error", default_status=500) from None
        except (FunctionFailed, InvokeError):
            raise GatewayError("DEFAULT_5XX", "Internal server error", default_status=502) from None
        return _proxy_response(raw)

    # -- the checks ---------------------------------------------------------------------------
    def _resource_path(self, path: str) -> str | None:
        prefix = f"/{self.api.stage}"
        if path != prefix and not path.startswith(prefix + "/"):
            return None
        resource = path[len(prefix) :].rstrip("/") or "/"
        return resource

    def _check_api_key(self, method: Method, headers: Mapping[str, list[str]]) -> Any:
        if not method.api_key_required:
            return None
        values = headers.get("x-api-key") or []
        key = self.api.api_keys.get(values[-1]) if values else None
        if key is None:
            raise GatewayError("INVALID_API_KEY", "Forbidden")
        return key

    def _throttle(self, method: Method, api_key: Any) -> None:
        # API Gateway's order: the client's usage-plan limit, then the method's (then the account's):
        # a request its client's plan refuses spends none of the method's capacity, which is what
        # keeps one client from taking the others' (https://docs.aws.amazon.com/apigateway/latest/
        # developerguide/api-gateway-request-throttling.html, "order in which limits are applied").
        limits: list[tuple[dict, Any, Throttle | None]] = []
        if api_key is not None:
            limits.append((self._key_buckets, api_key.id, api_key.throttle))
        limits.append((self._method_buckets, (method.resource_path, method.http_method), self.api.throttle_for(method)))
        for buckets, name, throttle in limits:
            if throttle is None:
                continue
            bucket = buckets.get(name)
            if bucket is None:
                bucket = buckets[name] = TokenBucket(throttle, self._clock)
            if not bucket.take():
                raise GatewayError("THROTTLED", "Too Many Requests")

    def _validate(
        self, method: Method, headers: Mapping[str, list[str]], query: list[tuple[str, str]], body: bytes
    ) -> None:
        if method.validate_parameters and method.required_parameters:
            present = {f"method.request.querystring.{name}" for name, _ in query}
            present |= {f"method.request.header.{name}" for name in headers}
            missing = [
                name.rsplit(".", 1)[-1]
                for name in method.required_parameters
                if name.lower() not in {p.lower() for p in present}
            ]
            if missing:
                raise GatewayError(
                    "BAD_REQUEST_PARAMETERS", f"Missing required request parameters: [{', '.join(missing)}]"
                )
        if method.validate_body and method.request_models:
            content_type = (headers.get("content-type") or ["application/json"])[-1].split(";")[0].strip().lower()
            model = method.request_models.get(content_type) or method.request_models.get("$default")
            if model is None:
                return  # no model for this media type: API Gateway does not validate the body
            try:
                document = json.loads(body)
            except ValueError:
                raise GatewayError(
                    "BAD_REQUEST_BODY", "Invalid request body", validation_error="body is not JSON"
                ) from None
            except RecursionError:
                # A body nested deeper than the parser goes ([[[[... 100,000 times) is one API Gateway's
                # validator cannot parse either: the same 400, never a 500.
                raise GatewayError(
                    "BAD_REQUEST_BODY", "Invalid request body", validation_error="body is nested too deeply"
                ) from None
            try:
                errors = sorted(self._validators[model].iter_errors(document), key=lambda e: list(e.path))
            except RecursionError:  # a schema that descends into a body the parser could still read
                raise GatewayError(
                    "BAD_REQUEST_BODY", "Invalid request body", validation_error="body is nested too deeply"
                ) from None
            if errors:
                # The validator's detail names the offending value's location, never the value.
                where = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
                raise GatewayError("BAD_REQUEST_BODY", "Invalid request body", validation_error=f"invalid at {where}")

    # -- the proxy event ----------------------------------------------------------------------
    def _event(
        self,
        scope: Scope,
        method: Method,
        headers: Mapping[str, list[str]],
        query: list[tuple[str, str]],
        body: bytes,
        request_id: str,
        api_key: Any,
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        client = scope.get("client") or ("127.0.0.1", 0)
        multi_query: dict[str, list[str]] = {}
        for name, value in query:
            multi_query.setdefault(name, []).append(value)
        try:
            text: str | None = body.decode("utf-8") if body else None
            is_base64 = False
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
        host = (headers.get("host") or ["127.0.0.1"])[-1]
        return {
            "resource": method.resource_path,
            "path": method.resource_path,
            "httpMethod": method.http_method,
            "headers": {name: values[-1] for name, values in headers.items()} or None,
            "multiValueHeaders": dict(headers) or None,
            "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": None,
            "stageVariables": dict(self.api.stage_variables) or None,
            "requestContext": {
                "resourceId": method.resource_path,
                "resourcePath": method.resource_path,
                "httpMethod": method.http_method,
                "extendedRequestId": secrets.token_urlsafe(12),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": scope["path"],
                "accountId": ACCOUNT_ID,
                "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
                "stage": self.api.stage,
                "domainPrefix": host.split(":")[0],
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": client[0],
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": (headers.get("user-agent") or [None])[-1],
                    "user": None,
                    "apiKey": api_key.value if api_key is not None else None,
                    "apiKeyId": api_key.id if api_key is not None else None,
                },
                "domainName": host,
                "apiId": self.api.id,
            },
            "body": text,
            "isBase64Encoded": is_base64,
        }

    # Note: an ASGI server hands header names over lower-cased; API Gateway keeps the client's case.

    # -- gateway responses --------------------------------------------------------------------
    def _gateway_response(
        self, error: GatewayError, context: dict[str, Any]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        context.update(responseType=error.response_type)
        deployed = self.api.gateway_responses.get(error.response_type)
        family = (
            "DEFAULT_4XX"
            if (error.default_status or DEFAULT_STATUS.get(error.response_type) or 500) < 500
            else "DEFAULT_5XX"
        )
        fallback = self.api.gateway_responses.get(family)
        chosen = deployed or fallback
        status = (
            (deployed.status_code if deployed and deployed.status_code else 0)
            or error.default_status
            or DEFAULT_STATUS.get(error.response_type)
            or (fallback.status_code if fallback and fallback.status_code else 0)
            or (500 if family == "DEFAULT_5XX" else 400)
        )
        variables = {
            "error.message": error.message,
            "error.messageString": json.dumps(error.message),
            "error.responseType": error.response_type,
            "error.validationErrorString": error.validation_error,
            **{key: str(value) for key, value in context.items() if key != "responseType"},
        }
        if chosen is not None and chosen.template is not None:
            body = render_template(chosen.template, variables, self.api.stage_variables).encode()
        else:
            body = json.dumps({"message": error.message}).encode()
        headers = [(k.encode(), v.encode()) for k, v in (chosen.headers if chosen else {}).items()]
        headers.append((b"x-amzn-errortype", _error_type(error.response_type).encode()))
        headers.append((b"content-type", b"application/json"))
        return status, headers, body


_TEMPLATE_VARIABLE = re.compile(
    r"\$(?:\{)?(context|stageVariables)\.([A-Za-z][A-Za-z0-9_.]*?)(?:\})?(?=[^A-Za-z0-9_.]|$)"
)


def render_template(template: str, context: Mapping[str, str], stage_variables: Mapping[str, str]) -> str:
    """The ``$context.*`` / ``$stageVariables.*`` references of a gateway response template
    (the only VTL a gateway response template can use); unknown ones render empty, as in API Gateway."""

    def value(match: re.Match[str]) -> str:
        source, name = match.groups()
        return (context if source == "context" else stage_variables).get(name, "")

    return _TEMPLATE_VARIABLE.sub(value, template)


def _proxy_response(raw: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A Lambda proxy response as API Gateway accepts it; anything else is a 502."""
    try:
        response = json.loads(raw)
    except ValueError:
        response = None
    if not _well_formed(response):
        raise GatewayError("DEFAULT_5XX", "Internal server error", default_status=502)
    headers: list[tuple[bytes, bytes]] = []
    multi = response.get("multiValueHeaders") or {}
    for name, value in (response.get("headers") or {}).items():
        if name not in multi:
            headers.append((name.encode(), str(value).encode()))
    for name, values in multi.items():
        headers.extend((name.encode(), str(v).encode()) for v in values)
    body = response.get("body") or ""
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    return int(response["statusCode"]), headers, payload


def _well_formed(response: Any) -> bool:
    if not isinstance(response, dict) or not set(response) <= PROXY_RESPONSE_KEYS:
        return False
    status = response.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return False
    headers = response.get("headers")
    if headers is not None and not (
        isinstance(headers, dict) and all(isinstance(v, (str, int, float, bool)) for v in headers.values())
    ):
        return False
    multi = response.get("multiValueHeaders")
    if multi is not None and not (isinstance(multi, dict) and all(isinstance(v, list) for v in multi.values())):
        return False
    body = response.get("body")
    if body is not None and not isinstance(body, str):
        return False
    if response.get("isBase64Encoded") not in (None, True, False):
        return False
    if response.get("isBase64Encoded") and body:
        try:
            base64.b64decode(body, validate=True)
        except ValueError:
            return False
    return True


def _headers(scope: Scope) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in scope.get("headers") or []:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return headers


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Sampled=1"


def _error_type(response_type: str) -> str:
    return {
        "INVALID_API_KEY": "ForbiddenException",
        "WAF_FILTERED": "ForbiddenException",
        "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
        "THROTTLED": "TooManyRequestsException",
        "BAD_REQUEST_BODY": "BadRequestException",
        "BAD_REQUEST_PARAMETERS": "BadRequestException",
        "REQUEST_TOO_LARGE": "RequestEntityTooLargeException",
    }.get(
        response_type,
        "InternalServerErrorException"
        if response_type.startswith(("DEFAULT_5", "INTEGRATION"))
        else "BadRequestException",
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
