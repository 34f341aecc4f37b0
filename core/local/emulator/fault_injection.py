"""The emulator's fault injection: a WSGI layer in front of moto's server that applies the run's
fault rules (core/local/faults.py) to AWS API calls -- the real calls of the deployed functions,
Terraform and the tooling, as they arrive.

A call is named as AWS names it: the service from the SigV4 credential scope, the action from
``X-Amz-Target`` (JSON protocols) or ``Action=`` (query protocol) or, for S3, the method, and the
resource from the request (TableName, the TransactItems' tables, QueueUrl, TopicArn, bucket/key).
Errors are answered in the service's own protocol, so botocore parses (and retries) them exactly
as it would AWS's.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from payments_platform.core.local.emulator.retried_calls import FAULT_MARK
from payments_platform.core.local.faults import FaultBook, FaultRule

_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
_S3_ACTIONS = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}
StartResponse = Callable[..., Any]


def _body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back for moto."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def describe_call(environ: dict[str, Any], body: bytes) -> tuple[str, str, str, str] | None:
    """(service, action, resource, access key) of a signed AWS call; None for anything else."""
    signed = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if signed is None:
        return None
    service, key = signed["service"], signed["key"]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    payload: dict[str, Any] = {}
    if target:
        action = target.rsplit(".", 1)[-1]
        try:
            loaded = json.loads(body or b"{}")
            payload = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            payload = {}
    else:
        form = parse_qs(environ.get("QUERY_STRING", ""))
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            form.update(parse_qs(body.decode("utf-8", "replace")))
        payload = {name: values[0] for name, values in form.items()}
        action = payload.get("Action", "")
    if service == "s3":
        path = urlsplit(environ.get("PATH_INFO", "")).path.strip("/")
        action = _S3_ACTIONS.get(environ.get("REQUEST_METHOD", ""), "") if "/" in path else environ["REQUEST_METHOD"]
        return service, action, path, key
    return service, action, ",".join(_resources(payload)), key


def _resources(payload: dict[str, Any]) -> list[str]:
    for name in ("TableName", "QueueUrl", "TopicArn", "TargetArn", "SecretId", "FunctionName"):
        if isinstance(payload.get(name), str):
            return [payload[name]]
    tables: list[str] = []
    for item in payload.get("TransactItems") or []:
        for operation in item.values() if isinstance(item, dict) else ():
            table = operation.get("TableName") if isinstance(operation, dict) else None
            if table and table not in tables:
                tables.append(table)
    return tables


def error_response(service: str, code: str, status: int, target: bool) -> tuple[str, list[tuple[str, str]], bytes]:
    """An AWS error in the protocol the call used: JSON ``__type`` (with SQS's query-compatible
    header), the query protocol's ErrorResponse, or S3's Error document."""
    message = f"injected fault: {code}"
    reason = {400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error", 503: "Service Unavailable"}
    status_line = f"{status} {reason.get(status, 'Error')}"
    if target:
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", code)]
        if service == "sqs":
            headers.append(("x-amzn-query-error", f"{code};{'Sender' if status < 500 else 'Receiver'}"))
        return status_line, headers, json.dumps({"__type": code, "message": message}).encode()
    if service == "s3":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    else:
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>injected-fault</RequestId></ErrorResponse>"
        )
    return status_line, [("Content-Type", "text/xml")], body.encode()


class FaultInjectingApp:
    """WSGI: moto's application, with the run's faults applied to the calls they match."""

    def __init__(self, app: Callable[..., Iterable[bytes]], book: FaultBook) -> None:
        self._app = app
        self._book = book

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self._book.empty():  # no faults declared (nearly always): moto reads the body itself
            return self._app(environ, start_response)
        body = _body(environ)
        call = describe_call(environ, body)
        if call is None:
            return self._app(environ, start_response)
        service, action, resource, key = call
        rule = self._book.take(service, action, resource, body, access_key=key)
        if rule is None:
            return self._app(environ, start_response)
        environ[FAULT_MARK] = rule.kind  # never replayed to a retry: the fault's consequences are the client's
        if rule.kind == "stall":
            time.sleep(rule.delay_ms / 1000)
            return self._app(environ, start_response)
        if rule.kind == "error_after":
            performed = self._perform(environ)
            logging.getLogger(__name__).warning(
                "fault %s: %s:%s performed (%s), answering with an error", rule.id, service, action, performed
            )
            time.sleep(rule.delay_ms / 1000)
        return self._fail(rule, service, environ, start_response)

    def _perform(self, environ: dict[str, Any]) -> str:
        """Run the call to completion (a write commits); its answer is dropped. Returns its status."""
        answered: list[str] = []

        def keep_status(status: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], None]:
            answered.append(status)
            return lambda _data: None

        result = self._app(environ, keep_status)
        try:
            for _chunk in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return answered[0] if answered else "no answer"

    def _fail(
        self, rule: FaultRule, service: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        code, status = rule.error_for(service)
        status_line, headers, payload = error_response(service, code, status, bool(environ.get("HTTP_X_AMZ_TARGET")))
        start_response(status_line, [*headers, ("Content-Length", str(len(payload)))])
        return [payload]
