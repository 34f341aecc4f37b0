"""The little ASGI plumbing the local gateway and the Runtime API share."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BodyTooLarge(Exception):
    pass


# How much of a body past the limit is read (and dropped) before the 4xx: see read_body.
DRAIN_FACTOR = 4


async def read_body(receive: Receive, *, limit: int) -> bytes:
    """The whole request body; BodyTooLarge once it passes ``limit`` bytes -- raised after the rest
    of the body is read and dropped (up to ``DRAIN_FACTOR`` × ``limit`` in all): answered at once, a
    client asking for `Connection: close` (urllib does) is closed on while it still writes its body,
    and meets "connection reset" instead of the answer (an 11 MiB body on a loaded machine)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            while message.get("more_body") and size <= DRAIN_FACTOR * limit:
                message = await receive()
                size += len(message.get("body", b""))
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def send_response(
    send: Send, status: int, body: bytes | dict | list | str, *, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    if isinstance(body, (dict, list)):
        payload = json.dumps(body, separators=(",", ":")).encode()
        default_type = b"application/json"
    elif isinstance(body, str):
        payload, default_type = body.encode(), b"text/plain; charset=utf-8"
    else:
        payload, default_type = body, b"application/json"
    headers = list(headers or [])
    if not any(name.lower() == b"content-type" for name, _ in headers):
        headers.append((b"content-type", default_type))
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
