"""The gateway process's HTTP server keeps an idle connection open longer than any invocation:
a container's Runtime API connection idles while its handler runs, and the runtime posts the
result on it (under load, a close at uvicorn's default 5 s met that POST: the container died and
the client got a 502). And a body refused for its size is answered to a client still sending it."""

from __future__ import annotations

import asyncio
import http.client
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from payments_platform.core.local.apigw.server import server_config
from payments_platform.core.local.asgi import BodyTooLarge, read_body
from payments_platform.core.local.lambdafn.service import FunctionSpec

T = TypeVar("T")
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


def served(app: Any, client: Callable[[int], T]) -> T:
    """``client(port)``'s result, run in a thread against ``app`` served by uvicorn with the
    gateway's settings on a free port."""

    async def main() -> T:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        server = uvicorn.Server(server_config(app, [function(timeout_s=3)]))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            return await asyncio.to_thread(client, sock.getsockname()[1])
        finally:
            server.should_exit = True
            await serving

    return asyncio.run(main())


def test_a_connection_idle_for_longer_than_uvicorns_default_keep_alive_still_carries_the_next_request():
    def client(port: int) -> tuple[int, int]:
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

    assert served(answer, client) == (200, 200)


def test_the_keep_alive_outlasts_the_longest_function_timeout_and_its_init():
    assert server_config(answer, [function(timeout_s=300)]).timeout_keep_alive > 300 + 10


def test_a_body_past_the_limit_is_answered_413_even_to_a_client_still_sending_it():
    """A client writes its whole body before it reads, and urllib asks for `Connection: close`:
    uvicorn closes as soon as the answer is sent, the body bytes still coming meet a closed socket
    and the client a reset (test_local_api's 11 MiB body, a loaded machine: ECONNRESET in sendall)
    instead of the 413. The rest of the body is read and dropped first."""
    limit = 64 * 1024

    async def refuse(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        try:
            await read_body(receive, limit=limit)
            status = 200
        except BodyTooLarge:
            status = 413
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    def client(port: int) -> bytes:
        body = b"x" * (2 * limit)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            head = f"POST /hooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
            connection.sendall(head.encode())  # as urllib sends it: Connection: close
            connection.sendall(body[: limit + 1024])
            time.sleep(0.5)  # the server has read past its limit by now
            for start in range(limit + 1024, len(body), 8 * 1024):  # as a client writing a large body does
                connection.sendall(body[start : start + 8 * 1024])
                time.sleep(0.02)
            return connection.recv(1024)

    assert served(refuse, client).startswith(b"HTTP/1.1 413")
