"""The gateway process's HTTP server keeps an idle connection open longer than any invocation:
a container's Runtime API connection idles while its handler runs, and the runtime posts the
result on it (under load, a close at uvicorn's default 5 s met that POST: the container died and
the client got a 502)."""

from __future__ import annotations

import asyncio
import http.client
import socket
import time
from pathlib import Path

import uvicorn

from payments_platform.core.local.apigw.server import server_config
from payments_platform.core.local.lambdafn.service import FunctionSpec

IDLE_S = 6.0  # past uvicorn's default keep-alive (5 s)


async def answer(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def function(timeout_s: int) -> FunctionSpec:
    return FunctionSpec(
        name="fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
        handler="h.handler",
        timeout_s=timeout_s,
        memory_mb=512,
        reserved_concurrency=1,
        environment={},
        code_dir=Path("."),
        log_group="/aws/lambda/fn",
    )


def test_a_connection_idle_for_longer_than_uvicorns_default_keep_alive_still_carries_the_next_request():
    async def main() -> tuple[int, int]:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        server = uvicorn.Server(server_config(answer, [function(timeout_s=3)]))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)

        def client() -> tuple[int, int]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("POST", "/2018-06-01/runtime/invocation/x/response", body=b"{}")
            first = connection.getresponse()
            first.read()
            time.sleep(IDLE_S)  # the handler runs
            connection.request("POST", "/2018-06-01/runtime/invocation/y/response", body=b"{}")  # same connection
            second = connection.getresponse()
            second.read()
            connection.close()
            return first.status, second.status

        try:
            return await asyncio.to_thread(client)
        finally:
            server.should_exit = True
            await serving

    assert asyncio.run(main()) == (200, 200)


def test_the_keep_alive_outlasts_the_longest_function_timeout_and_its_init():
    assert server_config(answer, [function(timeout_s=300)]).timeout_keep_alive > 300 + 10
