"""The REST API as deployed, read back from the emulator through API Gateway's own API.

Everything the local gateway does comes from here -- routes, keys, validators, models, CORS
preflights, gateway responses, stage variables, throttling, the stage's WAF web ACL (web_acl.py)
-- never from the Python that generated the Terraform. A setting the reader does not understand
is an error, not a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from payments_platform.core.errors import PlatformError
from payments_platform.core.local.apigw.web_acl import DeployedWebAcl, read_web_acl, stage_arn

# arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:...:function:NAME/invocations
_LAMBDA_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:lambda:path/2015-03-31/functions/(?P<arn>arn:[^/]+)/invocations$"
)
# A static value in a response parameter mapping is written in single quotes.
_STATIC = re.compile(r"^'(?P<value>.*)'$", re.DOTALL)


class DeployedApiError(PlatformError):
    """The deployed API uses something the local gateway cannot serve faithfully."""


@dataclass(frozen=True)
class Throttle:
    rate: float  # requests per second, steady state
    burst: int


@dataclass(frozen=True)
class Method:
    resource_path: str  # "/orders/{id}"
    http_method: str
    api_key_required: bool
    authorization: str
    integration_type: str  # AWS_PROXY | MOCK
    function_name: str | None = None  # AWS_PROXY → Lambda
    required_parameters: tuple[str, ...] = ()  # "method.request.querystring.transaction_id", ...
    validate_body: bool = False
    validate_parameters: bool = False
    request_models: Mapping[str, str] = field(default_factory=dict)  # content type → model name
    mock_status: int = 200
    mock_headers: Mapping[str, str] = field(default_factory=dict)  # MOCK integration response headers


@dataclass(frozen=True)
class GatewayResponse:
    response_type: str
    status_code: int
    headers: Mapping[str, str]
    template: str | None  # application/json body template


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    value: str
    throttle: Throttle | None  # the throttle of the usage plan that gives it this stage


@dataclass(frozen=True)
class DeployedApi:
    id: str
    name: str
    stage: str
    stage_variables: Mapping[str, str]
    methods: Mapping[tuple[str, str], Method]  # (resource path, method)
    models: Mapping[str, Mapping[str, Any]]  # model name → JSON schema
    gateway_responses: Mapping[str, GatewayResponse]
    api_keys: Mapping[str, ApiKey]  # by key value
    stage_throttle: Throttle | None  # stage / method settings for */*
    method_throttles: Mapping[str, Throttle] = field(default_factory=dict)  # "transactions/POST" → throttle
    tracing_enabled: bool = False
    web_acl: DeployedWebAcl | None = None  # associated with the stage

    def resource_paths(self) -> set[str]:
        return {path for path, _ in self.methods}

    def throttle_for(self, method: Method) -> Throttle | None:
        key = f"{method.resource_path.lstrip('/')}/{method.http_method}"
        return self.method_throttles.get(key, self.stage_throttle)


# API Gateway's own status for each response type when the API does not set one
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
DEFAULT_STATUS = {
    "ACCESS_DENIED": 403,
    "API_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500,
    "BAD_REQUEST_PARAMETERS": 400,
    "BAD_REQUEST_BODY": 400,
    "DEFAULT_4XX": None,
    "DEFAULT_5XX": None,
    "EXPIRED_TOKEN": 403,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
    "INVALID_API_KEY": 403,
    "INVALID_SIGNATURE": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413,
    "RESOURCE_NOT_FOUND": 404,
    "THROTTLED": 429,
    "UNAUTHORIZED": 401,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "WAF_FILTERED": 403,
}


def read_deployed_api(apigateway: Any, *, api_name: str, stage: str | None = None, wafv2: Any = None) -> DeployedApi:
    """Read the REST API named ``api_name`` (and its one stage, or ``stage``) from ``apigateway``
    (a boto3 client for the emulator); the stage's web ACL, when it has one, from ``wafv2``."""
    apis = [api for api in _all(apigateway.get_rest_apis) if api["name"] == api_name]
    if len(apis) != 1:
        raise DeployedApiError(f"expected one REST API named {api_name!r} on the emulator, found {len(apis)}")
    api = apis[0]
    api_id = api["id"]
    stages = apigateway.get_stages(restApiId=api_id)["item"]
    if stage is not None:
        stages = [s for s in stages if s["stageName"] == stage]
    if len(stages) != 1:
        raise DeployedApiError(
            f"REST API {api_name}: expected one deployed stage, found {[s['stageName'] for s in stages]}"
        )
    stage_body = stages[0]
    stage_name = stage_body["stageName"]

    validators = {v["id"]: v for v in apigateway.get_request_validators(restApiId=api_id).get("items", [])}
    models = {
        m["name"]: json.loads(m["schema"]) for m in _all(apigateway.get_models, restApiId=api_id) if m.get("schema")
    }
    methods: dict[tuple[str, str], Method] = {}
    for resource in _all(apigateway.get_resources, restApiId=api_id, embed=["methods"]):
        for verb in resource.get("resourceMethods") or {}:
            body = apigateway.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=verb)
            methods[(resource["path"], verb)] = _method(apigateway, api_id, resource, body, validators)

    return DeployedApi(
        id=api_id,
        name=api_name,
        stage=stage_name,
        stage_variables=dict(stage_body.get("variables") or {}),
        methods=methods,
        models=models,
        gateway_responses=_gateway_responses(apigateway, api_id),
        api_keys=_api_keys(apigateway, api_id, stage_name),
        stage_throttle=_settings_throttle((stage_body.get("methodSettings") or {}).get("*/*")),
        method_throttles={
            path: throttle
            for path, settings in (stage_body.get("methodSettings") or {}).items()
            if path != "*/*" and (throttle := _settings_throttle(settings)) is not None
        },
        tracing_enabled=bool(stage_body.get("tracingEnabled")),
        web_acl=_web_acl(apigateway, wafv2, api_id, stage_body),
    )


def _web_acl(apigateway: Any, wafv2: Any, api_id: str, stage_body: Mapping[str, Any]) -> DeployedWebAcl | None:
    if not stage_body.get("webAclArn"):
        return None
    if wafv2 is None:
        raise DeployedApiError(
            f"stage {stage_body['stageName']} has web ACL {stage_body['webAclArn']}, and no WAF client was given to read it"
        )
    return read_web_acl(wafv2, stage_arn(apigateway.meta.region_name, api_id, stage_body["stageName"]))


def _method(
    apigateway: Any, api_id: str, resource: Mapping[str, Any], body: Mapping[str, Any], validators: Mapping[str, Any]
) -> Method:
    path, verb = resource["path"], body["httpMethod"]
    integration = body.get("methodIntegration") or apigateway.get_integration(
        restApiId=api_id, resourceId=resource["id"], httpMethod=verb
    )
    kind = integration.get("type")
    validator = validators.get(body.get("requestValidatorId") or "", {})
    common = dict(
        resource_path=path,
        http_method=verb,
        api_key_required=bool(body.get("apiKeyRequired")),
        authorization=body.get("authorizationType", "NONE"),
        integration_type=kind,
        required_parameters=tuple(
            sorted(name for name, required in (body.get("requestParameters") or {}).items() if required)
        ),
        validate_body=bool(validator.get("validateRequestBody")),
        validate_parameters=bool(validator.get("validateRequestParameters")),
        request_models=dict(body.get("requestModels") or {}),
    )
    if common["authorization"] not in ("NONE",):
        raise DeployedApiError(
            f"{verb} {path}: authorization {common['authorization']} is not served locally (the local environment uses API keys)"
        )
    if kind == "AWS_PROXY":
        match = _LAMBDA_URI.match(integration.get("uri", ""))
        if not match:
            raise DeployedApiError(
                f"{verb} {path}: AWS_PROXY integration to {integration.get('uri')!r} is not a Lambda function"
            )
        return Method(**common, function_name=match["arn"].rsplit(":", 1)[-1])
    if kind == "MOCK":
        return Method(**common, **_mock_response(apigateway, api_id, resource["id"], verb, integration))
    raise DeployedApiError(f"{verb} {path}: integration type {kind!r} is not served locally")


def _mock_response(
    apigateway: Any, api_id: str, resource_id: str, verb: str, integration: Mapping[str, Any]
) -> dict[str, Any]:
    """What a MOCK integration answers: the status its request template selects, with that
    integration response's static header mappings."""
    template = (integration.get("requestTemplates") or {}).get("application/json", "")
    try:
        status = str(json.loads(template).get("statusCode", 200))
    except (ValueError, AttributeError):
        raise DeployedApiError(f"{verb}: MOCK request template {template!r} is not a static statusCode") from None
    responses = integration.get("integrationResponses") or {}
    response = responses.get(status) or apigateway.get_integration_response(
        restApiId=api_id, resourceId=resource_id, httpMethod=verb, statusCode=status
    )
    headers = {}
    for name, value in (response.get("responseParameters") or {}).items():
        header = name.removeprefix("method.response.header.")
        static = _STATIC.match(value or "")
        if header == name or static is None:
            raise DeployedApiError(f"{verb}: MOCK response mapping {name} = {value!r} is not a static header")
        headers[header] = static["value"]
    return {"mock_status": int(status), "mock_headers": headers}


def _gateway_responses(apigateway: Any, api_id: str) -> dict[str, GatewayResponse]:
    responses = {}
    for item in _all(apigateway.get_gateway_responses, restApiId=api_id):
        kind = item["responseType"]
        headers = {}
        for name, value in (item.get("responseParameters") or {}).items():
            static = _STATIC.match(value or "")
            if not name.startswith("gatewayresponse.header.") or static is None:
                raise DeployedApiError(f"gateway response {kind}: mapping {name} = {value!r} is not a static header")
            headers[name.removeprefix("gatewayresponse.header.")] = static["value"]
        status = item.get("statusCode")
        responses[kind] = GatewayResponse(
            response_type=kind,
            status_code=int(status) if status else 0,  # 0: API Gateway's default for the type
            headers=headers,
            template=(item.get("responseTemplates") or {}).get("application/json"),
        )
    return responses


def _api_keys(apigateway: Any, api_id: str, stage: str) -> dict[str, ApiKey]:
    """Enabled keys of usage plans that include this API's stage."""
    keys = {key["id"]: key for key in _all(apigateway.get_api_keys, includeValues=True)}
    result = {}
    for plan in _all(apigateway.get_usage_plans):
        if not any(s.get("apiId") == api_id and s.get("stage") == stage for s in plan.get("apiStages") or []):
            continue
        throttle = _plan_throttle(plan.get("throttle"))
        for member in _all(apigateway.get_usage_plan_keys, usagePlanId=plan["id"]):
            key = keys.get(member["id"])
            if key and key.get("enabled") and key.get("value"):
                result[key["value"]] = ApiKey(id=key["id"], name=key["name"], value=key["value"], throttle=throttle)
    return result


def _settings_throttle(settings: Mapping[str, Any] | None) -> Throttle | None:
    if not settings:
        return None
    rate, burst = settings.get("throttlingRateLimit"), settings.get("throttlingBurstLimit")
    if rate is None or burst is None or rate < 0 or burst < 0:
        return None  # -1: not throttled at this level
    return Throttle(rate=float(rate), burst=int(burst))


def _plan_throttle(throttle: Mapping[str, Any] | None) -> Throttle | None:
    if not throttle or throttle.get("rateLimit") is None:
        return None
    return Throttle(rate=float(throttle["rateLimit"]), burst=int(throttle.get("burstLimit") or 0))


def _all(operation: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a paginated API Gateway listing."""
    items: list[dict[str, Any]] = []
    position = None
    while True:
        page = operation(**kwargs, **({"position": position} if position else {}), limit=500)
        items.extend(page.get("items") or page.get("item") or [])
        position = page.get("position")
        if not position:
            return items
