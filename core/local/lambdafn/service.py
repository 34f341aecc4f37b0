"""Functions run as Lambda runs them: one warm worker process per concurrent container.

Each container is a process running AWS's own runtime interface client (``awslambdaric``) on the
deployed package, talking to the Lambda Runtime API that this module serves -- one loopback
port per container slot, so a request tells us which container asks (``/invocation/next``, then
``/response`` or ``/error``). Lambda's rules, as they apply to a synchronous invoke:

* a container is started (cold start) only when no warm one is idle, and never more than the
  function's reserved concurrency: beyond it the invoke is throttled, not queued;
* an invocation that outlives the function's timeout is cut off and its container reset;
* everything a container prints goes to ``/aws/lambda/<name>`` (stream per container, with
  Lambda's START / END / REPORT lines), written with the function's own credentials, and to the
  terminal with the function's name as prefix;
* a function whose code or configuration changes (``replace_functions``: UpdateFunctionCode, a
  re-applied configuration) gets new containers; the old ones finish the invocation they hold,
  on the code it started with, and are stopped -- as Lambda retires execution environments.

The run's container faults (core/local/faults.py) apply here: a container killed part-way through
an invocation, a cold start whose runtime dies before it takes work.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import resource
import signal
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from payments_platform.core.local.faults import FUNCTION_SERVICE, FaultBook, FaultRule

RUNTIME_API_PREFIX = "/2018-06-01/runtime"
EGRESS_GUARD_DIR = Path(__file__).with_name("egress_guard")
EGRESS_GUARD_SETTING = "PAYMENTS_LOCAL_EGRESS_GUARD"
# Lambda gives a cold start at most 10 s of init; ours also pays the interpreter start.
INIT_TIMEOUT_S = 10.0
LOG_FLUSH_INTERVAL_S = 0.5
_PR_SET_PDEATHSIG = 1


class InvokeError(Exception):
    """The invoke did not produce a function result (Lambda's own failure modes)."""

    kind = "error"


class FunctionThrottled(InvokeError):
    kind = "throttled"  # Lambda's 429 TooManyRequestsException (reserved concurrency reached)


class FunctionTimedOut(InvokeError):
    kind = "timeout"


class FunctionFailed(InvokeError):
    """An unhandled error in the handler, or the runtime died (Lambda's Unhandled function error)."""

    kind = "function_error"


@dataclass(frozen=True)
class FunctionSpec:
    """What Lambda knows about a deployed function, as read back from the emulator."""

    name: str
    arn: str
    handler: str
    timeout_s: int
    memory_mb: int
    reserved_concurrency: int
    environment: Mapping[str, str]
    code_dir: Path  # the deployed package, unpacked (Lambda's /var/task)
    log_group: str
    runtime: str = "python3.12"
    role_arn: str = ""  # its execution role (function_identities.py gives the worker its policies)
    # TCP ports it declared internet egress to (its egress-ports tag); None: it declared none, and
    # reaches nothing but the emulated AWS services (egress_guard/sitecustomize.py)
    egress_ports: tuple[int, ...] | None = None


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    trace_id: str
    result: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Container:
    """One execution environment: a worker process, its Runtime API port, its log stream."""

    def __init__(self, service: LambdaService, function: FunctionSpec, port: int) -> None:
        self.service = service
        self.function = function
        self.port = port
        self.id = uuid.uuid4().hex
        self.process: asyncio.subprocess.Process | None = None
        self.ready = asyncio.get_running_loop().create_future()  # set when the runtime first asks for work
        self.inbox: asyncio.Queue[Invocation | None] = asyncio.Queue(maxsize=1)
        self.current: Invocation | None = None
        self.started = time.monotonic()
        self.init_ms: float | None = None
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{self.id}"
        self.log_stream_created = False
        self.retired = False  # its function changed: it finishes what it holds, then stops
        self._readers: list[asyncio.Task] = []

    # -- process ----------------------------------------------------------------------------
    async def start(self) -> None:
        function = self.function
        environment = self.service.container_environment(function, self)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "awslambdaric",
            function.handler,
            cwd=function.code_dir,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_container_limits(function.memory_mb),
        )
        self._readers.append(asyncio.create_task(self._pump_output()))
        self._readers.append(asyncio.create_task(self._watch_exit()))

    async def _pump_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.service.log(self, line.decode("utf-8", "replace").rstrip("\n"))

    async def _watch_exit(self) -> None:
        assert self.process is not None
        code = await self.process.wait()
        self.service.forget(self)
        reason = f"Runtime exited with error: exit status {code}" if code else "Runtime exited"
        if not self.ready.done():
            self.ready.set_exception(FunctionFailed(f"init failed: {reason}"))
        if self.current is not None and not self.current.result.done():
            self.current.result.set_exception(FunctionFailed(reason))

    def kill(self, invocation: Invocation, fault: FaultRule, faults: FaultBook) -> None:
        """An injected fault: the container dies mid-invocation, as a crashed sandbox does -- if
        the invocation is still running (only then is the hit counted and logged)."""
        if self.current is not invocation or invocation.result.done() or self.process is None:
            return
        if faults.claim(
            fault, FUNCTION_SERVICE, "Invoke", self.function.name, container=self.id, request_id=invocation.request_id
        ):
            self.service.log(self, f"[local] fault {fault.id}: container killed during {invocation.request_id}")
            self.process.kill()

    async def stop(self) -> None:
        if self.inbox.empty():
            self.inbox.put_nowait(None)  # releases a pending /next: there is no next invocation
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        for task in self._readers:
            await asyncio.gather(task, return_exceptions=True)

    # -- Runtime API, as this container's runtime calls it -----------------------------------
    async def next_invocation(self) -> Invocation | None:
        """The next invocation for this container; None when the container is being stopped."""
        if not self.ready.done():
            # Not idle: the invoke that started this container takes it. Offered to every invoke,
            # it could be taken by one arriving now, and the invoke that waited for it had none.
            self.init_ms = (time.monotonic() - self.started) * 1000
            self.ready.set_result(True)
        invocation = await self.inbox.get()
        self.current = invocation
        return invocation

    def finish(self, request_id: str, outcome: Callable[[asyncio.Future], None]) -> bool:
        """The runtime posted the invocation's result: the invocation is over (Lambda's concurrency
        counts invocations in flight), so the container takes the next one as soon as it asks."""
        invocation = self.current
        if invocation is None or invocation.request_id != request_id or invocation.result.done():
            return False
        outcome(invocation.result)
        self.current = None
        if self.retired:
            self.service.retire_later(self)
        else:
            self.service.idle(self)
        return True


class LambdaService:
    """The functions of one deployment and their containers; ``invoke`` is Lambda's sync Invoke."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        *,
        runtime_ports: list[int],
        base_environment: Mapping[str, str],
        credentials: Mapping[str, Mapping[str, str]],
        log_sink: Callable[[str, str], None],
        cloudwatch: Callable[[FunctionSpec], Any] | None = None,
        faults: FaultBook | None = None,
    ) -> None:
        self.functions = dict(functions)
        self._free_ports = list(runtime_ports)
        self._base_environment = dict(base_environment)
        self._credentials = credentials
        self._log_sink = log_sink
        self._cloudwatch = cloudwatch
        self.containers: dict[int, Container] = {}  # by Runtime API port
        self._idle: dict[str, list[Container]] = {name: [] for name in self.functions}
        self._log_buffers: dict[str, list[dict[str, Any]]] = {}
        self._flusher: asyncio.Task | None = None
        self._stopping: set[asyncio.Task] = set()
        self.cold_starts = 0
        self._faults = faults

    # -- invoke -------------------------------------------------------------------------------
    async def invoke(self, function_name: str, payload: bytes, *, trace_id: str) -> bytes:
        function = self.functions[function_name]
        container = await self._acquire(function)
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        invocation = Invocation(
            request_id=request_id,
            payload=payload,
            deadline_ms=int((time.time() + function.timeout_s) * 1000),
            trace_id=trace_id,
        )
        self.log(container, f"START RequestId: {request_id} Version: $LATEST")
        container.inbox.put_nowait(invocation)
        # The payload is the request body a kill's ``contains`` is matched against: a rule can aim
        # at one kind of invocation (a payment by its reference, a connector's authorize).
        kill = self._faults.match(FUNCTION_SERVICE, "Invoke", function_name, payload) if self._faults else None
        if kill is not None and self._faults is not None:
            asyncio.get_running_loop().call_later(kill.delay_ms / 1000, container.kill, invocation, kill, self._faults)
        try:
            return await asyncio.wait_for(asyncio.shield(invocation.result), timeout=function.timeout_s)
        except TimeoutError:
            elapsed = time.monotonic() - started
            self.log(container, f"{_utc_now()} {request_id} Task timed out after {elapsed:.2f} seconds")
            await container.stop()  # Lambda resets the execution environment
            raise FunctionTimedOut(f"{function_name} timed out after {function.timeout_s} s") from None
        finally:
            duration_ms = (time.monotonic() - started) * 1000
            self.log(container, f"END RequestId: {request_id}")
            init = f"\tInit Duration: {container.init_ms:.2f} ms" if container.init_ms is not None else ""
            container.init_ms = None  # reported on the first invocation only, as Lambda does
            self.log(
                container,
                f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                f"Billed Duration: {max(1, round(duration_ms))} ms\tMemory Size: {function.memory_mb} MB{init}",
            )

    async def _acquire(self, function: FunctionSpec) -> Container:
        idle = self._idle[function.name]
        while idle:
            container = idle.pop()
            if container.process is not None and container.process.returncode is None:
                return container
        # A retired container still finishing an invocation no longer counts: its function has moved on.
        running = sum(1 for c in self.containers.values() if c.function.name == function.name and not c.retired)
        if running < function.reserved_concurrency and not self._free_ports and self._stopping:
            # Retired containers are giving their ports back: a code change is no reason to throttle.
            await asyncio.gather(*list(self._stopping), return_exceptions=True)
        if running >= function.reserved_concurrency or not self._free_ports:
            raise FunctionThrottled(
                f"Rate Exceeded: {function.name} is at its reserved concurrency ({function.reserved_concurrency})"
            )
        container = Container(self, function, self._free_ports.pop())
        self.containers[container.port] = container
        self.cold_starts += 1
        try:
            await container.start()
            failing = self._fault("Init", function.name, container)
            if failing is not None and container.process is not None:
                self.log(container, f"[local] fault {failing.id}: the runtime is killed during init")
                container.process.kill()
            await asyncio.wait_for(asyncio.shield(container.ready), timeout=INIT_TIMEOUT_S)
        except TimeoutError:
            # Said in the function's log, as Lambda does: the client only sees the gateway's 502.
            self.log(
                container, f"INIT_REPORT Init Duration: {INIT_TIMEOUT_S * 1000:.2f} ms\tPhase: init\tStatus: timeout"
            )
            await container.stop()
            raise FunctionFailed(f"{function.name}: init did not finish within {INIT_TIMEOUT_S:.0f} s") from None
        except InvokeError:
            self.log(
                container,
                f"INIT_REPORT Init Duration: {(time.monotonic() - container.started) * 1000:.2f} ms\t"
                "Phase: init\tStatus: error",
            )
            await container.stop()
            raise
        return container

    def _fault(self, action: str, function_name: str, container: Container, **context: str) -> FaultRule | None:
        if self._faults is None:
            return None
        return self._faults.take(FUNCTION_SERVICE, action, function_name, container=container.id, **context)

    def idle(self, container: Container) -> None:
        self._idle[container.function.name].append(container)

    # -- code and configuration changes -------------------------------------------------------
    def replace_functions(
        self, functions: Mapping[str, FunctionSpec], credentials: Mapping[str, Mapping[str, str]]
    ) -> list[str]:
        """Serve ``functions`` from now on; returns the names whose code, configuration or identity
        changed (or that were added or removed). Their idle containers stop now, busy ones once they
        have answered: the next invoke of a changed function starts a container on the new code."""
        changed = sorted(
            name
            for name in set(self.functions) | set(functions)
            if self.functions.get(name) != functions.get(name)
            or dict(self._credentials.get(name) or {}) != dict(credentials.get(name) or {})
        )
        self.functions = dict(functions)
        self._credentials = credentials
        for name in functions:
            self._idle.setdefault(name, [])
        for container in list(self.containers.values()):
            if container.function.name not in changed or container.retired:
                continue
            container.retired = True
            if container.current is None:
                self.retire_later(container)
        for name in changed:
            self._idle[name] = []
        for name in set(self._idle) - set(functions):
            del self._idle[name]
        return changed

    def retire_later(self, container: Container) -> None:
        """Stop a retired container in the background (it may be answering its Runtime API call)."""
        idle = self._idle.get(container.function.name) or []
        if container in idle:
            idle.remove(container)
        task = asyncio.get_running_loop().create_task(container.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def forget(self, container: Container) -> None:
        if self.containers.pop(container.port, None) is container:
            self._free_ports.append(container.port)
        idle = self._idle.get(container.function.name) or []
        if container in idle:
            idle.remove(container)

    def container_at(self, port: int) -> Container | None:
        return self.containers.get(port)

    # -- the container's environment, as Lambda sets it ---------------------------------------
    def container_environment(self, function: FunctionSpec, container: Container) -> dict[str, str]:
        environment = dict(self._base_environment)
        environment.update(function.environment)
        environment.update(self._credentials[function.name])
        environment.update(
            {
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{container.port}",
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": container.log_stream,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
                "LAMBDA_TASK_ROOT": str(function.code_dir),
                "_HANDLER": function.handler,
                # The package root first, as on Lambda (/var/task): its vendored libraries win; then
                # the egress guard, which Python's site imports at start-up (sitecustomize).
                "PYTHONPATH": os.pathsep.join((str(function.code_dir), str(EGRESS_GUARD_DIR))),
            }
        )
        # From the service's own environment, never the function's variables: a function cannot
        # widen what it may reach by setting AWS_ENDPOINT_URL_* itself.
        environment[EGRESS_GUARD_SETTING] = egress_guard_setting(
            function, {**self._base_environment, "AWS_LAMBDA_RUNTIME_API": environment["AWS_LAMBDA_RUNTIME_API"]}
        )
        return environment

    # -- logs ---------------------------------------------------------------------------------
    def log(self, container: Container, line: str) -> None:
        self._log_sink(container.function.name, line)
        if self._cloudwatch is not None:
            buffer = self._log_buffers.setdefault(container.id, [])
            if not buffer:
                buffer.append({"_container": container})
            buffer.append({"timestamp": int(time.time() * 1000), "message": line})
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        # Lines logged while a flush is under way are picked up by the next round of this loop.
        while self._log_buffers:
            await asyncio.sleep(LOG_FLUSH_INTERVAL_S)
            await self.flush_logs()

    async def flush_logs(self) -> None:
        buffers, self._log_buffers = self._log_buffers, {}
        for events in buffers.values():
            container: Container = events[0]["_container"]
            try:
                await asyncio.to_thread(self._put_log_events, container, events[1:])
            except Exception as exc:  # the logs are a copy: never fail an invoke over them
                self._log_sink(container.function.name, f"[local] could not write CloudWatch logs: {exc}")

    def _put_log_events(self, container: Container, events: list[dict[str, Any]]) -> None:
        assert self._cloudwatch is not None
        logs = self._cloudwatch(container.function)
        group, stream = container.function.log_group, container.log_stream
        if not container.log_stream_created:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            container.log_stream_created = True
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    async def close(self) -> None:
        for container in list(self.containers.values()):
            await container.stop()
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self.flush_logs()


def _container_limits(memory_mb: int) -> Callable[[], None]:
    def apply() -> None:
        # The container dies with the service that started it, even on SIGKILL (Linux).
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
        # The function's memory size bounds its heap, as Lambda's sandbox does (with headroom
        # for the interpreter this machine runs, which is not Lambda's).
        limit = (memory_mb + 256) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    return apply


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def runtime_api_headers(function: FunctionSpec, invocation: Invocation) -> list[tuple[bytes, bytes]]:
    """The headers of a ``/invocation/next`` answer (Lambda Runtime API)."""
    return [
        (b"content-type", b"application/json"),
        (b"lambda-runtime-aws-request-id", invocation.request_id.encode()),
        (b"lambda-runtime-deadline-ms", str(invocation.deadline_ms).encode()),
        (b"lambda-runtime-invoked-function-arn", function.arn.encode()),
        (b"lambda-runtime-trace-id", invocation.trace_id.encode()),
    ]


def error_payload(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def egress_guard_setting(function: FunctionSpec, environment: Mapping[str, str]) -> str:
    """What the function's guard lets through, as AWS would: the emulated AWS services (each
    ``AWS_ENDPOINT_URL*`` the container has) and its Runtime API, plus its declared egress ports."""
    endpoints = [environment["AWS_LAMBDA_RUNTIME_API"]]
    for name, value in sorted(environment.items()):
        if name.startswith("AWS_ENDPOINT_URL") and "://" in value:
            location = value.split("://", 1)[1].split("/", 1)[0]
            default = "443" if value.startswith("https") else "80"
            endpoints.append(location if ":" in location.rsplit("]", 1)[-1] else f"{location}:{default}")
    ports = list(function.egress_ports) if function.egress_ports is not None else None
    return json.dumps({"function": function.name, "endpoints": endpoints, "egress_ports": ports})
