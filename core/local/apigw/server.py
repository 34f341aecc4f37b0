"""The gateway process: the local API (uvicorn, ASGI) and the Lambda Runtime API of its containers.

    python -m payments_platform.core.local.apigw.server SPEC.json

SPEC is written by ``local up`` (lifecycle.py): the emulator endpoint, the API's name, the
functions as read from the emulator with each one's credentials, where to listen and where to
write the ready file. The REST API and the schedules (schedules.py) are read from the emulator here, at start.
One uvicorn server listens on the gateway's port and on one port per container slot; the port
a request arrives on says whether it is a client's request or a container's Runtime API call.
The gateway's port also serves Lambda's Invoke API (invoke_api.py) for direct invocations, to
SigV4-signed requests by the deployment's keys only (invoke_auth.py).

``local up --watch`` (core/local/watch.py) reloads a running gateway through a Unix socket in the
run directory (SPEC's ``control_socket``): one JSON line ``{"spec": PATH, "api": bool}`` names a
new spec -- the functions as now deployed -- and whether to read the deployed API again; the
answer is one JSON line ``{"ok": true, "changed": [functions]}`` or ``{"ok": false, "error": ...}``.
Requests in flight finish on what they started with (LambdaService.replace_functions).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import uvicorn

from payments_platform.core.local.apigw.deployed_api import read_deployed_api
from payments_platform.core.local.apigw.gateway import LocalGateway
from payments_platform.core.local.asgi import Receive, Scope, Send
from payments_platform.core.local.faults import FaultBook
from payments_platform.core.local.lambdafn.deployed_functions import spec_from_json
from payments_platform.core.local.lambdafn.event_sources import poll, read_event_sources
from payments_platform.core.local.lambdafn.invoke_api import invoke_api, is_invoke
from payments_platform.core.local.lambdafn.runtime_api import RuntimeApi
from payments_platform.core.local.lambdafn.schedules import read_schedules, run_schedule
from payments_platform.core.local.lambdafn.service import INIT_TIMEOUT_S, FunctionSpec, LambdaService
from payments_platform.core.local.processes import ADMIN_CREDENTIALS, emulator_client, write_json_atomically

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


def invoke_keys(credentials: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Access key id → secret of every identity the local deployment hands out: the emulator's
    administrator (Terraform, `local` tooling, the emulator's rotation) and each function's."""
    keys = {ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"]: ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
    keys.update({c["AWS_ACCESS_KEY_ID"]: c["AWS_SECRET_ACCESS_KEY"] for c in credentials.values()})
    return keys


def gateway_app(
    *,
    gateway_port: int,
    runtime_api: Any,
    service: LambdaService,
    serving: Mapping[str, Any],
    credentials: Mapping[str, Mapping[str, str]],
    region: str,
) -> Any:
    """The ASGI app on every port: a container slot's port serves the Runtime API; the gateway's
    port serves the Invoke API and the API (``serving["gateway"]``, swapped on reload). ``credentials``
    is read per request: a reload gives functions new keys."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["server"][1] != gateway_port:
            await runtime_api(scope, receive, send)
        elif is_invoke(scope):
            await invoke_api(service, scope, receive, send, keys=invoke_keys(credentials), region=region)
        else:
            await serving["gateway"](scope, receive, send)

    return app


async def serve(spec: dict[str, Any]) -> None:
    endpoint, region = spec["endpoint"], spec["region"]
    api = read_deployed_api(
        emulator_client("apigateway", endpoint, region),
        api_name=spec["api_name"],
        wafv2=emulator_client("wafv2", endpoint, region),
    )
    functions: dict[str, FunctionSpec] = {f["name"]: spec_from_json(f) for f in spec["functions"]}
    # Spare slots: during a reload (local up --watch) a retired container may still be answering
    # while its replacement starts.
    slots = sum(f.reserved_concurrency for f in functions.values()) + max(
        (f.reserved_concurrency for f in functions.values()), default=0
    )
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

    def new_gateway(api: Any) -> LocalGateway:
        return LocalGateway(
            api,
            lambda name, payload, trace: service.invoke(name, payload, trace_id=trace),
            access_log=lambda line: _print("gateway", line),
        )

    serving = {"gateway": new_gateway(api)}
    gateway = serving["gateway"]
    runtime_api = RuntimeApi(service)
    gateway_port = gateway_socket.getsockname()[1]

    app = gateway_app(
        gateway_port=gateway_port,
        runtime_api=runtime_api,
        service=service,
        serving=serving,
        credentials=credentials,
        region=region,
    )

    async def reload(request: dict[str, Any]) -> dict[str, Any]:
        new_spec = json.loads(Path(request["spec"]).read_text())
        new_functions = {f["name"]: spec_from_json(f) for f in new_spec["functions"]}
        if request.get("api"):
            # Read before anything is swapped: a failed read leaves the last good API serving.
            new_api = await asyncio.to_thread(
                read_deployed_api,
                emulator_client("apigateway", endpoint, region),
                api_name=new_spec["api_name"],
                wafv2=emulator_client("wafv2", endpoint, region),
            )
            serving["gateway"] = new_gateway(new_api)
        changed = service.replace_functions(new_functions, dict(new_spec["credentials"]))
        credentials.clear()
        credentials.update(new_spec["credentials"])
        spare = len(runtime_sockets) - sum(f.reserved_concurrency for f in new_functions.values())
        if spare < 0:
            _print("gateway", f"{-spare} container slot(s) short of the new reserved concurrency: restart `local up`")
        for name in changed:
            clients.pop(name, None)  # its identity may have a new key
        if request.get("api"):  # the deployment changed: its event source mappings may have too
            for poller in pollers:
                poller.cancel()
            pollers[:] = start_pollers()
        return {"ok": True, "changed": changed}

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            answer = await reload(json.loads(await reader.readline()))
        except Exception as exc:  # the last good version keeps serving; the caller says why
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        writer.write(json.dumps(answer).encode() + b"\n")
        await writer.drain()
        writer.close()

    control_server = (
        await asyncio.start_unix_server(control, path=spec["control_socket"]) if spec.get("control_socket") else None
    )

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

    def invoke(name: str, payload: bytes, trace: str) -> Any:
        return service.invoke(name, payload, trace_id=trace)

    def queue_client(function_name: str) -> Any:
        # Lambda's poller signs with the function's execution role: here, its identity.
        creds = credentials[function_name]
        return emulator_client("sqs", endpoint, region, creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"])

    def start_pollers() -> list[asyncio.Task]:
        sources = read_event_sources(emulator_client("lambda", endpoint, region), set(service.functions))
        admin_sqs = emulator_client("sqs", endpoint, region)
        tasks = []
        for source in sources:
            queue_name = source.queue_arn.rsplit(":", 1)[-1]
            _print("event-source", f"{queue_name} → {source.function_name}")
            tasks.append(
                asyncio.create_task(
                    poll(
                        source,
                        queue_client(source.function_name),
                        admin_sqs.get_queue_url(QueueName=queue_name)["QueueUrl"],
                        region,
                        invoke,
                        lambda line: _print("event-source", line),
                    )
                )
            )
        return tasks

    pollers = start_pollers()
    announcer = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[gateway_socket, *runtime_sockets])
    finally:
        announcer.cancel()
        if control_server is not None:
            control_server.close()
        for runner in [*runners, *pollers]:
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
