"""Keep-alive connections for the emulator's HTTP server.

werkzeug's development server answers every request with ``Connection: close`` because Python's
http.server cannot drain a request body the application left unread before it reads the next
request line. So every AWS call the emulator serves -- Terraform's, the functions', the tooling's --
paid a TCP connection, an accept and a new server thread, and the client a reconnect (~15 per
payment through the local API: benchmarks/emulator_cpu.py). This handler counts what is read of
each body; a request whose body was read whole (or is drained here, up to ``DRAIN_LIMIT``) keeps
its connection for the next one, as HTTP/1.1 intends. A chunked body, a body too large to drain,
or a client that asks for ``Connection: close`` still closes.

Upstream: werkzeug closes on purpose (pallets/werkzeug, serving.py "Always close the connection");
moto's own server inherits it. Ours is the draining the comment says http.server lacks.
"""

from __future__ import annotations

import socket
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

DRAIN_LIMIT = 64 * 1024  # what is still read of an unread body to keep the connection


class CountingInput:
    """The request body stream, counting the bytes read from it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read() if size is None or size < 0 else self._stream.read(size)
        self.read_bytes += len(data)
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        count = int(self._stream.readinto(buffer) or 0)
        self.read_bytes += count
        return count

    def readline(self, size: int | None = -1) -> bytes:
        line = self._stream.readline() if size is None or size < 0 else self._stream.readline(size)
        self.read_bytes += len(line)
        return bytes(line)

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = self._stream.readlines(hint)
        self.read_bytes += sum(len(line) for line in lines)
        return list(lines)

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


class _AfterTheBody:
    """What werkzeug's handler reads as ``rfile`` once a request is made: after each response it
    reads "any remaining data in the read socket, and discards it" -- on a kept connection that is
    the client's next request. A kept connection has nothing left to discard (its body was read
    whole); a closing one is drained as werkzeug does."""

    def __init__(self, handler: KeepAliveRequestHandler, stream: Any) -> None:
        self._handler, self._stream = handler, stream

    def read(self, size: int = -1) -> bytes:
        return bytes(self._stream.read(size)) if self._handler.close_connection else b""


class KeepAliveRequestHandler(MotoRequestHandler):
    _body: CountingInput | None = None
    _length: int | None = None

    def setup(self) -> None:
        super().setup()
        # The headers and the body go out as separate writes: on a kept connection Nagle's algorithm
        # holds the body for the client's delayed ACK (~40 ms a request), which a close used to flush.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def parse_request(self) -> bool:
        self._body, self._length = None, None  # an error answered before make_environ closes
        return bool(super().parse_request())

    def run_wsgi(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            super().run_wsgi()  # werkzeug's own dechunking reader: closed after, as werkzeug does
            return
        stream = self.rfile
        self.rfile = _AfterTheBody(self, stream)  # type: ignore[assignment]
        try:
            super().run_wsgi()
        finally:
            self.rfile = stream

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's own reader, no length to drain to
            return environ
        if isinstance(self.rfile, _AfterTheBody):
            environ["wsgi.input"] = self.rfile._stream
        try:
            self._length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return environ
        self._body = CountingInput(environ["wsgi.input"])
        environ["wsgi.input"] = self._body
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        forced_close = keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection
        if forced_close and self._body_read_whole():
            return  # werkzeug's own close (not the client's, not HTTP/1.0's): the connection stays
        super().send_header(keyword, value)

    def _body_read_whole(self) -> bool:
        if self._body is None or self._length is None:
            return False
        left = self._length - self._body.read_bytes
        if left > DRAIN_LIMIT:
            return False
        while left > 0:
            chunk = self._body.read(left)
            if not chunk:
                return False
            left -= len(chunk)
        return True
