"""Containers run handlers as Lambda does: awslambdaric workers behind our Runtime API, warm reuse,
reserved concurrency, timeouts, crashes, init errors, logs -- and no process outlives the service."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from payments_platform.core.local.faults import FUNCTION_SERVICE, FaultBook, FaultRule, add_fault, read_hits
from payments_platform.core.local.lambdafn.runtime_api import RuntimeApi
from payments_platform.core.local.lambdafn.service import (
    FunctionFailed,
    FunctionSpec,
    FunctionThrottled,
    FunctionTimedOut,
    LambdaService,
)

HANDLERS = textwrap.dedent(
    """
    import json, os, time

    print("cold start of", os.environ["AWS_LAMBDA_FUNCTION_NAME"])

    def echo(event, context):
        print("handling", event.get("n"))
        return {"pid": os.getpid(), "event": event, "function": context.function_name,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "variables": {k: os.environ.get(k) for k in ("GREETING", "AWS_ACCESS_KEY_ID", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                                                              "AWS_ENDPOINT_URL", "HOME_OF_THE_TEST")}}

    def sleepy(event, context):
        time.sleep(event["seconds"])
        return {"slept": event["seconds"]}

    def boom(event, context):
        raise ValueError("boom")
    """
)


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("task")
    (root / "handlers.py").write_text(HANDLERS)
    return root


def spec(code_dir: Path, handler: str, *, name: str = "fn", timeout: int = 5, concurrency: int = 1) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        handler=handler,
        timeout_s=timeout,
        memory_mb=512,
        reserved_concurrency=concurrency,
        environment={"GREETING": "hi"},
        code_dir=code_dir,
        log_group=f"/aws/lambda/{name}",
    )


def run_service(
    functions: list[FunctionSpec],
    scenario: Callable[[LambdaService, list[tuple[str, str]]], Awaitable[Any]],
    cloudwatch: Any = None,
    faults: Any = None,
    endpoint: str = "http://127.0.0.1:9",
) -> Any:
    """Serve the Runtime API on loopback ports, run ``scenario``, close everything."""
    lines: list[tuple[str, str]] = []

    async def main() -> Any:
        sockets = []
        for _ in range(sum(f.reserved_concurrency for f in functions)):
            sock = socket.socket()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
            sock.setblocking(False)
            sockets.append(sock)
        service = LambdaService(
            {f.name: f for f in functions},
            runtime_ports=[s.getsockname()[1] for s in sockets],
            base_environment={"PATH": os.environ["PATH"], "AWS_ENDPOINT_URL": endpoint},
            credentials={
                f.name: {"AWS_ACCESS_KEY_ID": f"key-of-{f.name}", "AWS_SECRET_ACCESS_KEY": "s"} for f in functions
            },
            log_sink=lambda name, line: lines.append((name, line)),
            cloudwatch=cloudwatch,
            faults=faults,
        )
        server = uvicorn.Server(
            uvicorn.Config(RuntimeApi(service), log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        )
        serving = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            return await scenario(service, lines)
        finally:
            pids = [c.process.pid for c in service.containers.values() if c.process]
            await service.close()
            server.should_exit = True
            await serving
            for pid in pids:
                assert not _running(pid), f"container {pid} outlived the service"

    return asyncio.run(main())


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


async def invoke(service: LambdaService, name: str, event: dict[str, Any]) -> Any:
    return json.loads(
        await service.invoke(name, json.dumps(event).encode(), trace_id="Root=1-00000000-000000000000000000000000")
    )


def test_first_invoke_is_a_cold_start_and_the_next_reuses_the_warm_container(code_dir):
    async def scenario(service, lines):
        first = await invoke(service, "fn", {"n": 1})
        second = await invoke(service, "fn", {"n": 2})
        return first, second, service.cold_starts

    first, second, cold_starts = run_service([spec(code_dir, "handlers.echo")], scenario)
    assert first["pid"] == second["pid"] and cold_starts == 1
    assert second["event"] == {"n": 2} and first["function"] == "fn"


def test_container_gets_the_function_environment_and_its_own_credentials_only(code_dir, monkeypatch):
    monkeypatch.setenv("HOME_OF_THE_TEST", "must not leak into a container")

    async def scenario(service, lines):
        return await invoke(service, "fn", {})

    result = run_service([spec(code_dir, "handlers.echo")], scenario)
    assert result["variables"] == {
        "GREETING": "hi",
        "AWS_ACCESS_KEY_ID": "key-of-fn",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "HOME_OF_THE_TEST": None,
    }
    assert 0 < result["remaining_ms"] <= 5000  # the deadline comes from the function's timeout


def test_beyond_reserved_concurrency_an_invoke_is_throttled_not_queued(code_dir):
    async def scenario(service, lines):
        slow = asyncio.create_task(invoke(service, "fn", {"seconds": 1.0}))
        await asyncio.sleep(0.5)  # the one container is busy
        with pytest.raises(FunctionThrottled):
            await invoke(service, "fn", {"seconds": 0})
        return await slow

    assert run_service([spec(code_dir, "handlers.sleepy")], scenario) == {"slept": 1.0}


def test_two_containers_serve_two_concurrent_invokes(code_dir):
    async def scenario(service, lines):
        results = await asyncio.gather(*(invoke(service, "fn", {"seconds": 0.5}) for _ in range(2)))
        return results, service.cold_starts

    results, cold_starts = run_service([spec(code_dir, "handlers.sleepy", concurrency=2)], scenario)
    assert results == [{"slept": 0.5}] * 2 and cold_starts == 2


def test_an_invoke_past_the_timeout_fails_and_the_container_is_replaced(code_dir):
    async def scenario(service, lines):
        with pytest.raises(FunctionTimedOut):
            await invoke(service, "fn", {"seconds": 3})
        after = await invoke(service, "fn", {"seconds": 0})
        return after, service.cold_starts, lines

    after, cold_starts, lines = run_service([spec(code_dir, "handlers.sleepy", timeout=1)], scenario)
    assert after == {"slept": 0} and cold_starts == 2
    assert any("Task timed out after" in line for _, line in lines)


def test_an_unhandled_error_is_a_function_error_and_the_container_stays_warm(code_dir):
    async def scenario(service, lines):
        for _ in range(2):
            with pytest.raises(FunctionFailed, match="ValueError: boom"):
                await invoke(service, "fn", {})
        return service.cold_starts, lines

    cold_starts, lines = run_service([spec(code_dir, "handlers.boom")], scenario)
    assert cold_starts == 1
    assert any("boom" in line for _, line in lines)  # the traceback goes to the function's log


def test_a_handler_that_cannot_be_imported_fails_the_init(code_dir):
    async def scenario(service, lines):
        with pytest.raises(FunctionFailed, match="init failed"):
            await invoke(service, "fn", {})
        return service.containers, [line for _, line in lines]

    containers, lines = run_service([spec(code_dir, "missing_module.handler")], scenario)
    assert containers == {}
    assert any(line.startswith("INIT_REPORT") and line.endswith("Status: error") for line in lines)


def test_output_is_logged_with_lambda_start_end_report_lines(code_dir):
    async def scenario(service, lines):
        await invoke(service, "fn", {"n": 7})
        await asyncio.sleep(0.2)  # the output pump runs beside the invoke
        return [line for _, line in lines]

    lines = run_service([spec(code_dir, "handlers.echo")], scenario)
    assert any(line.startswith("cold start of fn") for line in lines)
    assert any(line == "handling 7" for line in lines)
    kinds = [line.split()[0] for line in lines if line.split()[0] in ("START", "END", "REPORT")]
    assert kinds == ["START", "END", "REPORT"]
    assert "Init Duration" in next(line for line in lines if line.startswith("REPORT"))


class SlowLogs:
    """A CloudWatch Logs client that takes its time, as a loaded emulator does."""

    def __init__(self) -> None:
        self.streams: dict[str, list[str]] = {}

    def __call__(self, function: FunctionSpec) -> SlowLogs:
        return self

    def create_log_stream(self, logGroupName: str, logStreamName: str) -> None:
        self.streams.setdefault(f"{logGroupName}|{logStreamName}", [])

    def put_log_events(self, logGroupName: str, logStreamName: str, logEvents: list[dict[str, Any]]) -> None:
        import time

        time.sleep(0.3)
        self.streams[f"{logGroupName}|{logStreamName}"].extend(e["message"] for e in logEvents)


def test_every_line_reaches_the_function_log_group_even_when_logged_during_a_flush(code_dir):
    logs = SlowLogs()

    async def scenario(service, lines):
        await invoke(service, "fn", {"n": 1})
        await asyncio.sleep(0.6)  # the first flush is under way
        await invoke(service, "fn", {"n": 2})
        await asyncio.sleep(2.0)  # no more logging: the lines of the second invoke must still be shipped
        return [line for _, line in lines], {name: list(events) for name, events in logs.streams.items()}

    printed, streams = run_service([spec(code_dir, "handlers.echo")], scenario, cloudwatch=logs)
    ((stream, shipped),) = streams.items()  # as shipped before the service closed
    assert stream.startswith("/aws/lambda/fn|") and "[$LATEST]" in stream
    assert [line for line in printed if line.startswith("REPORT")] == [
        line for line in shipped if line.startswith("REPORT")
    ]
    assert sum(line.startswith("REPORT") for line in shipped) == 2


def test_a_cold_started_container_serves_the_invoke_that_started_it_even_when_another_arrives_as_it_becomes_ready(
    code_dir,
):
    """Under load another invoke may arrive the moment a new container asks for work: it must not
    take that container from the invoke that started it (which then failed with a bare 500)."""

    async def scenario(service, lines):
        racers: list[asyncio.Task] = []
        original_container_at = service.container_at

        def container_at(port):
            # The first Runtime API call is the new container's first /next: another invoke arrives
            # right as it becomes ready (the task runs before the starting invoke resumes).
            if not racers:
                racers.append(asyncio.get_running_loop().create_task(invoke(service, "fn", {"seconds": 0.2})))
            return original_container_at(port)

        service.container_at = container_at
        first = await invoke(service, "fn", {"seconds": 0.2})
        second = await racers[0]
        return first, second, service.cold_starts

    first, second, cold_starts = run_service([spec(code_dir, "handlers.sleepy", concurrency=2)], scenario)
    assert first == second == {"slept": 0.2} and cold_starts == 2


# --------------------------------------------------------------------------- code and configuration changes


def _version_dir(root: Path, version: str) -> Path:
    directory = root / version
    directory.mkdir()
    (directory / "versioned.py").write_text(
        textwrap.dedent(
            f"""
            import os, time

            def handler(event, context):
                time.sleep(event.get("seconds", 0))
                return {{"version": "{version}", "pid": os.getpid()}}
            """
        )
    )
    return directory


def test_after_a_code_change_the_next_invoke_runs_the_new_code_in_a_new_container(tmp_path):
    old = spec(_version_dir(tmp_path, "v1"), "versioned.handler")
    new = dataclasses.replace(old, code_dir=_version_dir(tmp_path, "v2"))

    async def scenario(service: LambdaService, _lines: list[tuple[str, str]]) -> Any:
        before = await invoke(service, "fn", {})
        changed = service.replace_functions({"fn": new}, service._credentials)
        after = await invoke(service, "fn", {})
        return before, changed, after, len(service.containers)

    before, changed, after, containers = run_service([old], scenario)
    assert (before["version"], changed, after["version"]) == ("v1", ["fn"], "v2")
    assert after["pid"] != before["pid"] and containers == 1  # the old container was stopped


def test_an_invocation_in_flight_during_a_code_change_finishes_on_the_code_it_started_with(tmp_path):
    old = spec(_version_dir(tmp_path, "v1"), "versioned.handler", concurrency=2)
    new = dataclasses.replace(old, code_dir=_version_dir(tmp_path, "v2"))

    async def scenario(service: LambdaService, _lines: list[tuple[str, str]]) -> Any:
        await invoke(service, "fn", {})  # warm, so the slow invoke starts at once
        slow = asyncio.create_task(invoke(service, "fn", {"seconds": 1.0}))
        await asyncio.sleep(0.3)
        service.replace_functions({"fn": new}, service._credentials)
        during = await invoke(service, "fn", {})
        finished = await slow
        await asyncio.sleep(0.3)  # the retired container is stopped once it has answered
        return finished, during, [c.function.code_dir.name for c in service.containers.values()]

    finished, during, left = run_service([old], scenario)
    assert (finished["version"], during["version"]) == ("v1", "v2")
    assert left == ["v2"]


def test_an_unchanged_function_keeps_its_warm_container(tmp_path):
    same = spec(_version_dir(tmp_path, "v1"), "versioned.handler")

    async def scenario(service: LambdaService, _lines: list[tuple[str, str]]) -> Any:
        first = await invoke(service, "fn", {})
        changed = service.replace_functions({"fn": same}, service._credentials)
        return first, changed, await invoke(service, "fn", {})

    first, changed, second = run_service([same], scenario)
    assert changed == [] and second["pid"] == first["pid"]


def test_a_kill_fault_kills_the_container_mid_invocation_and_the_next_invoke_cold_starts(code_dir, tmp_path):
    add_fault(tmp_path, FaultRule("kill", FUNCTION_SERVICE, resource="f*", delay_ms=300, count=1))

    async def scenario(service, lines):
        with pytest.raises(FunctionFailed, match="exit status"):
            await invoke(service, "fn", {"seconds": 2})
        after = await invoke(service, "fn", {"seconds": 0})
        return after, service.cold_starts, lines

    after, cold_starts, lines = run_service([spec(code_dir, "handlers.sleepy")], scenario, faults=FaultBook(tmp_path))
    assert after == {"slept": 0} and cold_starts == 2
    assert any("container killed during" in line for _, line in lines)
    [hit] = read_hits(tmp_path)
    assert hit["kind"] == "kill" and hit["resource"] == "fn" and hit["request_id"]


def test_a_kill_aimed_by_contains_kills_only_the_invocation_whose_payload_holds_the_text(code_dir, tmp_path):
    add_fault(tmp_path, FaultRule("kill", FUNCTION_SERVICE, resource="fn", contains="aim-wait-", delay_ms=300))

    async def scenario(service, lines):
        spared = await invoke(service, "fn", {"seconds": 0.6, "reference": "aim-mix-1"})
        with pytest.raises(FunctionFailed, match="exit status"):
            await invoke(service, "fn", {"seconds": 2, "reference": "aim-wait-2"})
        return spared

    spared = run_service([spec(code_dir, "handlers.sleepy")], scenario, faults=FaultBook(tmp_path))
    assert spared == {"slept": 0.6}
    [hit] = read_hits(tmp_path)
    assert hit["kind"] == "kill" and hit["resource"] == "fn"


def test_a_cold_start_fault_fails_the_init_once_then_the_function_starts(code_dir, tmp_path):
    add_fault(tmp_path, FaultRule("cold_start", FUNCTION_SERVICE, resource="fn", count=1))

    async def scenario(service, lines):
        with pytest.raises(FunctionFailed, match="init failed"):
            await invoke(service, "fn", {"n": 1})
        return await invoke(service, "fn", {"n": 2}), lines

    result, lines = run_service([spec(code_dir, "handlers.echo")], scenario, faults=FaultBook(tmp_path))
    assert result["event"] == {"n": 2}
    assert any("Phase: init\tStatus: error" in line for _, line in lines)
    assert [hit["action"] for hit in read_hits(tmp_path)] == ["Init"]


def test_a_kill_that_comes_after_the_invocation_ended_kills_nothing_and_is_not_a_hit(code_dir, tmp_path):
    add_fault(tmp_path, FaultRule("kill", FUNCTION_SERVICE, resource="fn", delay_ms=500, count=1))

    async def scenario(service, lines):
        first = await invoke(service, "fn", {"seconds": 0})
        await asyncio.sleep(0.8)  # past the kill's moment: the invocation had ended
        second = await invoke(service, "fn", {"seconds": 0})
        return first, second, service.cold_starts

    first, second, cold_starts = run_service([spec(code_dir, "handlers.sleepy")], scenario, faults=FaultBook(tmp_path))
    assert first == second == {"slept": 0} and cold_starts == 1
    assert read_hits(tmp_path) == []
