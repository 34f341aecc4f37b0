"""The gateway process: the local API (uvicorn, ASGI) and the Lambda Runtime API of its containers.

    python -m payments_platform.core.local.apigw.server SPEC.json

SPEC (gateway_spec.py) is written by ``local up`` (lifecycle.py): the emulator endpoint, the stack,
the functions as read from the emulator with each one's credentials, where to listen and where to
write the ready file. The REST APIs (api_router.py), the schedules and the event source mappings are
read from the emulator here (deployed_stack.py), at start and on a reload.
One uvicorn server listens on the gateway's port and on one port per container slot; the port
a request arrives on says whether it is a client's request or a container's Runtime API call.
The gateway's port also serves Lambda's Invoke API (invoke_api.py) for direct invocations, to
SigV4-signed requests by the deployment's keys only (invoke_auth.py).
``serve`` only composes these services.

``local up --watch`` (core/local/watch.py) reloads a running gateway through a Unix socket in the
run directory (SPEC's ``control_socket``): one JSON line ``{"spec": PATH, "api": bool}`` names a
new spec -- the functions as now deployed -- and whether to read the deployed API again; the
answer is one JSON line ``{"ok": true, "changed": [functions]}`` or ``{"ok": false, "error": ...}``.
Requests in flight finish on what they started with (LambdaService.replace_functions).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import socket
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import uvicorn

from payments_platform.core.local.apigw.api_router import ApiRouter
from payments_platform.core.local.apigw.deployed_api import DeployedApi
from payments_platform.core.local.apigw.gateway import LocalGateway
from payments_platform.core.local.asgi import Receive, Scope, Send
from payments_platform.core.local.deployed_stack import DeployedStack
from payments_platform.core.local.faults import FaultBook
from payments_platform.core.local.gateway_spec import GatewaySpec
from payments_platform.core.local.lambdafn.event_sources import poll
from payments_platform.core.local.lambdafn.invoke_api import invoke_api, is_invoke
from payments_platform.core.local.lambdafn.runtime_api import RuntimeApi
from payments_platform.core.local.lambdafn.schedules import run_schedule
from payments_platform.core.local.lambdafn.service import INIT_TIMEOUT_S, FunctionSpec, LambdaService
from payments_platform.core.local.processes import ADMIN_CREDENTIALS, write_json_atomically

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
    apis: Any,
    credentials: Mapping[str, Mapping[str, str]],
    region: str,
) -> Any:
    """The ASGI app on every port: a container slot's port serves the Runtime API; the gateway's
    port serves the Invoke API and the deployed APIs (``apis``: api_router.py). ``credentials``
    is read per request: a reload gives functions new keys."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["server"][1] != gateway_port:
            await runtime_api(scope, receive, send)
        elif is_invoke(scope):
            await invoke_api(service, scope, receive, send, keys=invoke_keys(credentials), region=region)
        else:
            await apis(scope, receive, send)

    return app


def base_environment(spec: GatewaySpec, gateway_port: int | None = None) -> dict[str, str]:
    """What every worker runs with besides its function's own variables and identity."""
    environment = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
    if gateway_port is not None:
        # A function invoking another (the processor its payment connector) reaches the local
        # Lambda service's Invoke API here, signing as itself, as it reaches Lambda's endpoint in
        # AWS. Upstream: moto's Invoke runs functions in Docker, which the local deployment does not use.
        host = "127.0.0.1" if spec.host in ("", "0.0.0.0", "::") else spec.host
        environment["AWS_ENDPOINT_URL_LAMBDA"] = f"http://{host}:{gateway_port}"
    environment.update(
        {
            "AWS_ENDPOINT_URL": spec.endpoint,
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return environment


def container_slots(functions: Iterable[FunctionSpec]) -> int:
    # Spare slots: during a reload (local up --watch) a retired container may still be answering
    # while its replacement starts.
    reserved = [f.reserved_concurrency for f in functions]
    return sum(reserved) + max(reserved, default=0)


class FunctionClients:
    """Emulator clients signed as a function's identity, as Lambda signs with its execution role:
    its log writes (CloudWatch Logs), its queue polls (event source mappings)."""

    def __init__(self, stack: DeployedStack, credentials: dict[str, dict[str, str]]) -> None:
        self._stack, self.credentials = stack, credentials
        self._logs: dict[str, Any] = {}

    def logs(self, function: FunctionSpec) -> Any:
        if function.name not in self._logs:
            self._logs[function.name] = self._stack.client("logs", self.credentials[function.name])
        return self._logs[function.name]

    def sqs(self, function_name: str) -> Any:
        return self._stack.client("sqs", self.credentials[function_name])

    def replace(self, credentials: Mapping[str, Mapping[str, str]], changed: Iterable[str]) -> None:
        self.credentials.clear()
        self.credentials.update({name: dict(values) for name, values in credentials.items()})
        for name in changed:
            self._logs.pop(name, None)  # its identity may have a new key


class Triggers:
    """The deployed schedules and event source mappings, each running as a task that invokes."""

    def __init__(self, stack: DeployedStack, service: LambdaService, clients: FunctionClients) -> None:
        self._stack, self._service, self._clients = stack, service, clients
        self._schedules: list[asyncio.Task] = []
        self._pollers: list[asyncio.Task] = []

    def _invoke(self, name: str, payload: bytes, trace: str) -> Any:
        return self._service.invoke(name, payload, trace_id=trace)

    def start_schedules(self) -> None:
        say = functools.partial(_print, "scheduler")
        for schedule in self._stack.schedules(set(self._service.functions), say):
            self._schedules.append(asyncio.create_task(run_schedule(schedule, self._invoke, say)))

    def restart_pollers(self) -> None:
        for task in self._pollers:
            task.cancel()
        say = functools.partial(_print, "event-source")
        admin_sqs, self._pollers = self._stack.client("sqs"), []
        for source in self._stack.event_sources(set(self._service.functions)):
            queue_name = source.queue_arn.rsplit(":", 1)[-1]
            say(f"{queue_name} → {source.function_name}")
            queue_url = admin_sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            client = self._clients.sqs(source.function_name)
            self._pollers.append(
                asyncio.create_task(poll(source, client, queue_url, self._stack.region, self._invoke, say))
            )

    def cancel(self) -> None:
        for task in [*self._schedules, *self._pollers]:
            task.cancel()


class Reloads:
    """``local up --watch``'s control socket: a new spec swaps the functions (and, with ``api``,
    the deployed APIs and event sources); a failed read leaves the last good version serving."""

    def __init__(
        self, service: LambdaService, router: ApiRouter, clients: FunctionClients, triggers: Triggers, slots: int
    ) -> None:
        self._service, self._router, self._clients, self._triggers = service, router, clients, triggers
        self._slots = slots

    async def reload(self, request: dict[str, Any]) -> dict[str, Any]:
        spec = GatewaySpec.read(Path(request["spec"]))
        stack = DeployedStack(spec.endpoint, spec.region, spec.stack_dir)
        apis = await asyncio.to_thread(stack.apis) if request.get("api") else None  # before anything is swapped
        if apis is not None:
            self._router.replace(apis)
        functions = {f.name: f for f in spec.functions}
        changed = self._service.replace_functions(functions, dict(spec.credentials))
        self._clients.replace(spec.credentials, changed)
        spare = self._slots - sum(f.reserved_concurrency for f in functions.values())
        if spare < 0:
            _print("gateway", f"{-spare} container slot(s) short of the new reserved concurrency: restart `local up`")
        if apis is not None:  # the deployment changed: its event source mappings may have too
            self._triggers.restart_pollers()
        return {"ok": True, "changed": changed}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            answer = await self.reload(json.loads(await reader.readline()))
        except Exception as exc:  # the last good version keeps serving; the caller says why
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        writer.write(json.dumps(answer).encode() + b"\n")
        await writer.drain()
        writer.close()


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, service: LambdaService) -> None:
        super().__init__(config)
        self._service = service

    async def shutdown(self, sockets: Any = None) -> None:
        # Containers first: their pending /next calls end, so the server has nothing to wait for.
        await self._service.close()
        await super().shutdown(sockets)


async def announce(server: uvicorn.Server, spec: GatewaySpec, router: ApiRouter, port: int) -> None:
    """The ready file once the server listens: what ``local up`` records and prints."""
    while not server.started:
        await asyncio.sleep(0.02)
    urls = router.urls(f"http://{spec.host}:{port}")
    url = next(iter(urls.values()), f"http://{spec.host}:{port}")
    write_json_atomically(spec.ready_file, {"pid": os.getpid(), "port": port, "url": url, "urls": urls})
    for gateway in router.gateways.values():
        _print("gateway", f"serving {gateway.api.name} stage {gateway.api.stage} at {urls[gateway.api.name]}")
        if gateway.waf is not None:
            waf = gateway.waf.describe()
            _print(
                "gateway",
                f"web ACL {waf['web_acl']}: emulated {', '.join(waf['emulated']) or 'nothing'}; "
                f"not emulated (requests pass them) {', '.join(waf['not_emulated']) or 'nothing'}",
            )


async def serve(spec: GatewaySpec) -> None:
    stack = DeployedStack(spec.endpoint, spec.region, spec.stack_dir)
    slots = container_slots(spec.functions)
    gateway_socket = _listen(spec.host, spec.port)
    gateway_port = gateway_socket.getsockname()[1]
    runtime_sockets = [_listen("127.0.0.1", 0) for _ in range(slots)]
    clients = FunctionClients(stack, {name: dict(values) for name, values in spec.credentials.items()})
    service = LambdaService(
        {f.name: f for f in spec.functions},
        runtime_ports=[s.getsockname()[1] for s in runtime_sockets],
        base_environment=base_environment(spec, gateway_port),
        credentials=clients.credentials,
        log_sink=_print,
        cloudwatch=clients.logs,
        faults=FaultBook(spec.ready_file.parent, log=functools.partial(_print, "faults")),
    )

    def invoke(name: str, payload: bytes, trace: str) -> Any:
        return service.invoke(name, payload, trace_id=trace)

    def new_gateway(api: DeployedApi) -> LocalGateway:
        return LocalGateway(api, invoke, access_log=functools.partial(_print, "gateway"))

    router = ApiRouter(stack.apis(), new_gateway)
    runtime_api = RuntimeApi(service)

    app = gateway_app(
        gateway_port=gateway_port,
        runtime_api=runtime_api,
        service=service,
        apis=router,
        credentials=clients.credentials,
        region=spec.region,
    )
    triggers = Triggers(stack, service, clients)
    reloads = Reloads(service, router, clients, triggers, len(runtime_sockets))
    control = await asyncio.start_unix_server(reloads.handle, path=spec.control_socket) if spec.control_socket else None
    server = GatewayServer(server_config(app, spec.functions), service)
    triggers.start_schedules()
    triggers.restart_pollers()
    announcer = asyncio.create_task(announce(server, spec, router, gateway_port))
    try:
        await server.serve(sockets=[gateway_socket, *runtime_sockets])
    finally:
        announcer.cancel()
        if control is not None:
            control.close()
        triggers.cancel()
        await service.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m payments_platform.core.local.apigw.server SPEC.json", file=sys.stderr)
        return 2
    spec = GatewaySpec.read(Path(args[0]))
    try:
        asyncio.run(serve(spec))
    except OSError as exc:  # the port is taken, most likely
        print(f"gateway: cannot listen on {spec.host}:{spec.port}: {exc.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
