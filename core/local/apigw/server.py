"""The gateway process: the local API (uvicorn, ASGI) and the Lambda Runtime API of its containers.

    python -m payments_platform.core.local.apigw.server SPEC.json

SPEC is written by ``local up`` (lifecycle.py): the emulator endpoint, the API's name, the
functions as read from the emulator with each one's credentials, where to listen and where to
write the ready file. The REST API and the schedules (schedules.py) are read from the emulator here, at start.
One uvicorn server listens on the gateway's port and on one port per container slot; the port
a request arrives on says whether it is a client's request or a container's Runtime API call.
The gateway's port also serves Lambda's Invoke API (invoke_api.py) for direct invocations.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import uvicorn

from payments_platform.core.local.apigw.deployed_api import read_deployed_api
from payments_platform.core.local.apigw.gateway import LocalGateway
from payments_platform.core.local.asgi import Receive, Scope, Send
from payments_platform.core.local.faults import FaultBook
from payments_platform.core.local.lambdafn.deployed_functions import spec_from_json
from payments_platform.core.local.lambdafn.invoke_api import invoke_api, is_invoke
from payments_platform.core.local.lambdafn.runtime_api import RuntimeApi
from payments_platform.core.local.lambdafn.schedules import read_schedules, run_schedule
from payments_platform.core.local.lambdafn.service import INIT_TIMEOUT_S, FunctionSpec, LambdaService
from payments_platform.core.local.processes import emulator_client, write_json_atomically

# What a worker inherits from this machine; everything else comes from the deployed function.
INHERITED_VARIABLES = ("PATH", "LANG", "HOME", "TMPDIR", "SYSTEMROOT")
# How long an idle keep-alive connection stays open (uvicorn's default is 5 s). A container's
# Runtime API connection is idle while its handler runs: closed under it, the runtime's POST of
# the result could meet the close and fail ("Failed to post invocation response": the container
# exits, the client gets a 502); a load client reusing its connection could meet it too (a reset).
MIN_KEEP_ALIVE_S = 75


def _print(prefix: str, line: str) -> None:
    sys.stdout.write(f"[{prefix}] {line}\n")
    sys.stdout.flush()


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted connections: without it, a response's body waits for the client's
    # delayed ACK of its headers (Nagle), 40 ms per Runtime API call.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def server_config(app: Any, functions: Iterable[FunctionSpec]) -> uvicorn.Config:
    """The gateway's uvicorn settings: connections outlive the longest invocation (and its init)."""
    longest = max((f.timeout_s for f in functions), default=0) + INIT_TIMEOUT_S
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=max(MIN_KEEP_ALIVE_S, int(longest) + 1),
    )


async def serve(spec: dict[str, Any]) -> None:
    endpoint, region = spec["endpoint"], spec["region"]
    api = read_deployed_api(
        emulator_client("apigateway", endpoint, region),
        api_name=spec["api_name"],
        wafv2=emulator_client("wafv2", endpoint, region),
    )
    functions: dict[str, FunctionSpec] = {f["name"]: spec_from_json(f) for f in spec["functions"]}
    slots = sum(f.reserved_concurrency for f in functions.values())
    gateway_socket = _listen(spec["host"], spec["port"])
    runtime_sockets = [_listen("127.0.0.1", 0) for _ in range(slots)]
    credentials = spec["credentials"]
    base_environment = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
    base_environment.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    clients: dict[str, Any] = {}

    def cloudwatch(function: FunctionSpec) -> Any:
        # Lambda writes a function's logs with its execution role: here, the function's identity.
        if function.name not in clients:
            creds = credentials[function.name]
            clients[function.name] = emulator_client(
                "logs", endpoint, region, creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"]
            )
        return clients[function.name]

    service = LambdaService(
        functions,
        runtime_ports=[s.getsockname()[1] for s in runtime_sockets],
        base_environment=base_environment,
        credentials=credentials,
        log_sink=_print,
        cloudwatch=cloudwatch,
        faults=FaultBook(Path(spec["ready_file"]).parent, log=lambda line: _print("faults", line)),
    )
    gateway = LocalGateway(
        api,
        lambda name, payload, trace: service.invoke(name, payload, trace_id=trace),
        access_log=lambda line: _print("gateway", line),
    )
    runtime_api = RuntimeApi(service)
    gateway_port = gateway_socket.getsockname()[1]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["server"][1] != gateway_port:
            await runtime_api(scope, receive, send)
        elif is_invoke(scope):
            await invoke_api(service, scope, receive, send)
        else:
            await gateway(scope, receive, send)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            # Containers first: their pending /next calls end, so the server has nothing to wait for.
            await service.close()
            await super().shutdown(sockets)

    server = Server(server_config(app, functions.values()))

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        url = f"http://{spec['host']}:{gateway_port}/{api.stage}"
        write_json_atomically(Path(spec["ready_file"]), {"pid": os.getpid(), "port": gateway_port, "url": url})
        _print("gateway", f"serving {api.name} stage {api.stage} at {url}")
        if gateway.waf is not None:
            waf = gateway.waf.describe()
            _print(
                "gateway",
                f"web ACL {waf['web_acl']}: emulated {', '.join(waf['emulated']) or 'nothing'}; "
                f"not emulated (requests pass them) {', '.join(waf['not_emulated']) or 'nothing'}",
            )

    schedules = read_schedules(
        emulator_client("scheduler", endpoint, region), set(functions), lambda line: _print("scheduler", line)
    )
    runners = [
        asyncio.create_task(
            run_schedule(
                schedule,
                lambda name, payload, trace: service.invoke(name, payload, trace_id=trace),
                lambda line: _print("scheduler", line),
            )
        )
        for schedule in schedules
    ]
    announcer = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[gateway_socket, *runtime_sockets])
    finally:
        announcer.cancel()
        for runner in runners:
            runner.cancel()
        await service.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m payments_platform.core.local.apigw.server SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text())
    try:
        asyncio.run(serve(spec))
    except OSError as exc:  # the port is taken, most likely
        print(f"gateway: cannot listen on {spec['host']}:{spec['port']}: {exc.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
