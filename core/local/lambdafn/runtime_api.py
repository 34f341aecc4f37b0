"""The Lambda Runtime API (2018-06-01), served to the containers of a :class:`LambdaService`.

Which container is calling is told by the port it called: each container gets its own.
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

from __future__ import annotations

import re
from typing import Any

from payments_platform.core.local.asgi import Receive, Scope, Send, read_body, send_response
from payments_platform.core.local.lambdafn.service import (
    FunctionFailed,
    LambdaService,
    error_payload,
    runtime_api_headers,
)

_RESULT = re.compile(r"^/2018-06-01/runtime/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")
NEXT = "/2018-06-01/runtime/invocation/next"
INIT_ERROR = "/2018-06-01/runtime/init/error"
# Lambda's cap on a synchronous response payload.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024


class RuntimeApi:
    def __init__(self, service: LambdaService) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        port = scope["server"][1]
        container = self.service.container_at(port)
        path, method = scope["path"], scope["method"]
        if container is None:
            await send_response(send, 410, {"errorMessage": "no container on this port", "errorType": "Gone"})
            return
        if method == "GET" and path == NEXT:
            invocation = await container.next_invocation()
            if invocation is None:
                await send_response(send, 410, {"errorMessage": "the container is stopping", "errorType": "Gone"})
                return
            await send_response(
                send, 200, invocation.payload, headers=runtime_api_headers(container.function, invocation)
            )
            return
        body = await read_body(receive, limit=MAX_RESPONSE_BYTES + 1)
        if method == "POST" and path == INIT_ERROR:
            error = error_payload(body)
            message = f"{error.get('errorType', 'Runtime.Unknown')}: {error.get('errorMessage', '')}"
            if not container.ready.done():
                container.ready.set_exception(FunctionFailed(f"init failed: {message}"))
            await send_response(send, 202, {"status": "OK"})
            return
        match = _RESULT.match(path)
        if method == "POST" and match:
            request_id = match["id"]
            if match["kind"] == "response":
                if len(body) > MAX_RESPONSE_BYTES:
                    outcome = _failing(
                        FunctionFailed("Response payload size exceeded maximum allowed payload size (6291556 bytes).")
                    )
                else:
                    outcome = _succeeding(body)
            else:
                error = error_payload(body)
                outcome = _failing(
                    FunctionFailed(f"{error.get('errorType', 'Unhandled')}: {error.get('errorMessage', '')}")
                )
            if container.finish(request_id, outcome):
                await send_response(send, 202, {"status": "OK"})
            else:
                await send_response(
                    send,
                    400,
                    {"errorMessage": f"unknown or finished request {request_id}", "errorType": "InvalidRequestID"},
                )
            return
        await send_response(send, 404, {"errorMessage": f"{method} {path}", "errorType": "NotFound"})


def _succeeding(body: bytes) -> Any:
    return lambda future: future.set_result(body)


def _failing(error: Exception) -> Any:
    return lambda future: future.set_exception(error)
