"""Lambda's Invoke API (``POST /2015-03-31/functions/{name}/invocations``), served beside the
local gateway, as `sam local start-lambda` does: a boto3 Lambda client pointed at the gateway's
base URL invokes the deployed functions directly (a scheduled or queue-driven function, a test).
Synchronous invokes only; errors as Lambda answers them. Only a SigV4-signed request by a key of
the local deployment is run, never a browser's (invoke_auth.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from payments_platform.core.local.asgi import BodyTooLarge, Receive, Scope, Send, read_body, send_response
from payments_platform.core.local.lambdafn.invoke_auth import InvokeRefused, authenticate, refuse_browsers
from payments_platform.core.local.lambdafn.service import (
    FunctionThrottled,
    FunctionTimedOut,
    InvokeError,
    LambdaService,
)

PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous request payload limit


def is_invoke(scope: Scope) -> bool:
    return scope["type"] == "http" and PATH.match(scope["path"]) is not None


async def invoke_api(
    service: LambdaService,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    keys: Mapping[str, str],
    region: str,
) -> None:
    """Run one Invoke request signed with one of ``keys`` (access key id → secret) for ``region``."""
    name = PATH.match(scope["path"])["name"].rsplit(":", 1)[-1]  # a name or an ARN
    try:
        # Before the body is read or the function looked up: a browser learns nothing, not even
        # which functions exist.
        refuse_browsers(scope)
        try:
            payload = await read_body(receive, limit=MAX_PAYLOAD_BYTES)
        except BodyTooLarge:
            await _error(send, 413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes")
            return
        authenticate(scope, payload, keys=keys, region=region)
    except InvokeRefused as refused:
        await _error(send, refused.status, refused.error_type, refused.message)
        return
    if scope["method"] != "POST":
        await _error(send, 405, "InvalidRequestContentException", "Invoke is POST")
        return
    if name not in service.functions:
        await _error(send, 404, "ResourceNotFoundException", f"Function not found: {name}")
        return
    try:
        result = await service.invoke(name, payload or b"{}", trace_id="")
    except FunctionThrottled as exc:
        await _error(send, 429, "TooManyRequestsException", str(exc))
        return
    except FunctionTimedOut as exc:
        await _function_error(send, "Sandbox.Timedout", str(exc))
        return
    except InvokeError as exc:
        await _function_error(send, "Unhandled", str(exc))
        return
    await send_response(send, 200, result, headers=[(b"x-amz-executed-version", b"$LATEST")])


async def _function_error(send: Send, kind: str, message: str) -> None:
    # Lambda answers 200 with X-Amz-Function-Error when the function itself failed.
    await send_response(
        send,
        200,
        {"errorMessage": message, "errorType": kind},
        headers=[(b"x-amz-function-error", b"Unhandled"), (b"x-amz-executed-version", b"$LATEST")],
    )


async def _error(send: Send, status: int, kind: str, message: str) -> None:
    await send_response(
        send, status, {"Type": "User", "message": message}, headers=[(b"x-amzn-errortype", kind.encode())]
    )
