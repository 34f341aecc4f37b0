"""Loaded by every local function's interpreter (its PYTHONPATH): a TCP connection goes where it
could go from the function in AWS, or fails as it would there, with one line naming the function.

In AWS a function runs in private subnets: it reaches the AWS services through VPC endpoints, and
the internet only when it declared egress (and then only on its declared ports). Locally nothing
stops a socket, so this guard does (the local Lambda service sets PAYMENTS_LOCAL_EGRESS_GUARD, read
from the deployed function's egress-ports tag): a connection to anything other than the emulated
AWS services and the Lambda Runtime API, from a function without egress -- or to a port it did not
declare -- raises ``TimeoutError`` (in AWS the packets are dropped and the connect times out) and
prints one line. Python-level sockets only: native code opening its own sockets is not seen.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys

_SETTING = "PAYMENTS_LOCAL_EGRESS_GUARD"


def _addresses(endpoints: list[str]) -> set[tuple[str, int]]:
    allowed = set()
    for endpoint in endpoints:
        host, _, port = endpoint.rpartition(":")
        try:
            for info in socket.getaddrinfo(host.strip("[]"), int(port), proto=socket.IPPROTO_TCP):
                allowed.add((str(info[4][0]), int(port)))
        except (OSError, ValueError):
            continue
    return allowed


def _install(setting: dict) -> None:
    function = setting["function"]
    allowed = _addresses(setting["endpoints"])
    ports = setting.get("egress_ports")
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refusal(sock: socket.socket, address: object) -> OSError | None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
            return None
        host, port = str(address[0]), int(address[1])
        try:
            resolved = {str(i[4][0]) for i in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
        except OSError:
            resolved = {host}
        if any((ip, port) in allowed for ip in resolved):
            return None
        if ports is not None and port in ports:
            return None
        if ports is None:
            why = "it declared no egress: in AWS it has no route to the internet (platform_function(..., egress=Egress(...)))"
        else:
            why = f"its declared egress allows TCP {', '.join(map(str, ports))} only"
        line = f"[local] function '{function}' connected to {host}:{port}, refused: {why}"
        print(line, file=sys.stderr, flush=True)
        return TimeoutError(errno.ETIMEDOUT, line)

    def connect(self: socket.socket, address: object) -> None:
        refused = refusal(self, address)
        if refused is not None:
            raise refused
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        refused = refusal(self, address)
        if refused is not None:
            return errno.ETIMEDOUT
        return original_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


if os.environ.get(_SETTING):
    _install(json.loads(os.environ[_SETTING]))
