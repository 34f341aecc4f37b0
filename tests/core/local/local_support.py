"""Calling an ASGI app in-process, and a deployed API made by hand (as read_deployed_api returns it)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from suite_snapshots import wait_for_the_seed

from payments_platform.core.local.apigw.deployed_api import ApiKey, DeployedApi, GatewayResponse, Method, Throttle
from payments_platform.core.ops.terraform import find_mirror

REPO = Path(__file__).resolve().parents[3]


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# Popen arguments for a CLI a test will Ctrl-C (os.killpg(pid, SIGINT)): a process group of its own,
# and SIGINT's default action even when the suite runs as a script's background job (POSIX: such a
# job inherits SIGINT ignored, and the Ctrl-C would be lost).
CTRL_C_ABLE = {"start_new_session": True, "preexec_fn": _sigint_default}


def seeded_workdir(tmp_path: Path) -> Path:
    """``tmp_path`` holding the repository's environments.toml, for a test whose `local up` restores
    the suite's snapshot: skipped without terraform and a provider mirror, returned once the seed is up."""
    if shutil.which("terraform") is None or find_mirror() is None:
        pytest.skip("needs terraform and an offline provider mirror")
    shutil.copy(REPO / "environments.toml", tmp_path / "environments.toml")
    wait_for_the_seed()
    return tmp_path


KEY_VALUE = "k" * 40
OTHER_KEY_VALUE = "o" * 40
SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "additionalProperties": False,
    "required": ["amount"],
    "properties": {"amount": {"type": "integer"}, "card": {"type": "object"}},
}
CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
TEMPLATE = '{"error":{"type":"x","code":"%s","message":$context.error.messageString,"request_id":"$context.requestId"}}'


def deployed_api(**changes: Any) -> DeployedApi:
    api = DeployedApi(
        id="abc123",
        name="payments-api-test",
        stage="prod",
        stage_variables={"environment": "test"},
        methods={
            ("/transactions", "POST"): Method(
                "/transactions",
                "POST",
                True,
                "NONE",
                "AWS_PROXY",
                function_name="processor",
                validate_body=True,
                validate_parameters=True,
                request_models={"application/json": "Create"},
            ),
            ("/status", "GET"): Method(
                "/status",
                "GET",
                True,
                "NONE",
                "AWS_PROXY",
                function_name="status",
                required_parameters=("method.request.querystring.transaction_id",),
                validate_parameters=True,
            ),
            ("/transactions", "OPTIONS"): Method(
                "/transactions",
                "OPTIONS",
                False,
                "NONE",
                "MOCK",
                mock_headers={"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST,OPTIONS"},
            ),
        },
        models={"Create": SCHEMA},
        gateway_responses={
            kind: GatewayResponse(kind, 0, CORS, TEMPLATE % kind.lower())
            for kind in (
                "DEFAULT_4XX",
                "DEFAULT_5XX",
                "INVALID_API_KEY",
                "MISSING_AUTHENTICATION_TOKEN",
                "BAD_REQUEST_BODY",
                "BAD_REQUEST_PARAMETERS",
                "THROTTLED",
                "REQUEST_TOO_LARGE",
                "INTEGRATION_TIMEOUT",
                "INTEGRATION_FAILURE",
                "WAF_FILTERED",
            )
        },
        api_keys={
            KEY_VALUE: ApiKey("key1", "client-one", KEY_VALUE, Throttle(100.0, 50)),
            OTHER_KEY_VALUE: ApiKey("key2", "client-two", OTHER_KEY_VALUE, None),
        },
        stage_throttle=Throttle(10000.0, 5000),
        tracing_enabled=True,
    )
    return replace(api, **changes)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingInvoker:
    """Plays Lambda: records each event, answers with ``answer(event)``."""

    answer: Callable[[dict[str, Any]], Any] = lambda event: {"statusCode": 200, "body": "{}"}
    events: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, function: str, payload: bytes, trace_id: str) -> bytes:
        event = json.loads(payload)
        event["_function"] = function
        self.events.append(event)
        result = self.answer(event)
        if isinstance(result, BaseException):
            raise result
        return result if isinstance(result, bytes) else json.dumps(result).encode()


def call(
    app: Callable[..., Awaitable[None]],
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    query: str = "",
    chunk: int = 65536,
    client: str = "127.0.0.9",
) -> Response:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "http_version": "1.1",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": (client, 50000),
        "server": ("127.0.0.1", 8080),
    }
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Response(start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, payload)


def processes_under(directory: Path) -> list[int]:
    """PIDs of every process whose working directory is ``directory`` or below it (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(directory):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


# A "terraform" deaf to Ctrl-C, with a "provider" child just as deaf, which writes its pid to
# provider.pid in the directory it runs in.
# The steps of a Ctrl-C (two interrupts, then SIGKILL) with short waits, for a process known to ignore interrupts.
DEAF_TO_INTERRUPTS = ((signal.SIGINT, 0.5), (signal.SIGINT, 0.5), (signal.SIGKILL, 5.0))
STUBBORN_TERRAFORM = """#!/bin/sh
trap "" INT
sh -c 'trap "" INT; sleep 300' &
echo $! > provider.pid
wait
"""


def stubborn_terraform(directory: Path) -> Any:
    from payments_platform.core.ops.terraform import Terraform

    binary = directory / "terraform"
    binary.write_text(STUBBORN_TERRAFORM)
    binary.chmod(0o755)
    # It ignores both interrupts: wait half a second after each, not a Ctrl-C's 3 s and 5 s.
    return Terraform(str(binary), None, directory / "tf", stop_steps=DEAF_TO_INTERRUPTS)


# A payment taken: decided (201), or still with the connector when its authorization budget ran
# out (202 processing): the first payment meets cold function containers, which on a loaded
# two-core machine (five pytest workers) took that long once. These tests are about processes.
PAYMENT_TAKEN = (201, 202)
