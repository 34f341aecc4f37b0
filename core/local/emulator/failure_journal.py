"""The emulator's failure journal: every request it could not serve, one JSON line each, for
``local up`` / ``local smoke`` to watch while Terraform works (lifecycle.py).

A plugin whose resource moto does not implement otherwise hangs ``terraform apply``: moto raises
``NotImplementedError`` (werkzeug answers 500), the provider retries a 500 for minutes, and nothing
reaches the console. Here each such request is recorded with its service and action, so the run can
fail within seconds, naming them.

It also says, in the emulator's log, when a client *retries* a request (the AWS SDKs send
``amz-sdk-request: attempt=N`` and one ``amz-sdk-invocation-id`` across a call's attempts) and how
the emulator answered the earlier attempt. Under load a create has been seen to arrive twice and
fail the second time with "already exists" (KMS CreateAlias, Backup CreateBackupPlan, API Gateway
CreateStage, Firehose CreateDeliveryStream); those lines tell whether the first attempt was answered
(and lost on the way back) or failed after moto had created the resource.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NOT_IMPLEMENTED = re.compile(r"The (\w+) action has not been implemented")
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_ATTEMPT = re.compile(r"attempt=(\d+)")
# How many calls' answers are remembered for their retries (a deployment makes a few thousand).
REMEMBERED_CALLS = 4096
RETRY_LOG = logging.getLogger("payments.emulator.retries")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Failure:
    at: float  # time.time()
    service: str  # the signing name: "backup", "lambda", ...
    action: str  # "CreateBackupSelection" (CamelCase), or "" when the request does not say
    status: int
    not_implemented: bool

    @property
    def service_action(self) -> str:
        return f"{self.service}:{self.action or '?'}"


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _request_action(environ: dict[str, Any]) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return str(target).rsplit(".", 1)[-1]
    match = re.search(r"(?:^|&)Action=([A-Za-z0-9]+)", environ.get("QUERY_STRING", ""))
    return match[1] if match else ""


def _service(environ: dict[str, Any]) -> str:
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match[1] if match else "?"


class FailureJournal:
    """WSGI middleware: serves as ``app`` does, and appends a line to ``path`` for each 5xx."""

    def __init__(self, app: WsgiApp, path: Path) -> None:
        self.app, self.path = app, path
        self._lock = threading.Lock()
        # amz-sdk-invocation-id → the status its latest attempt was answered ("" while in flight)
        self._answers: OrderedDict[str, str] = OrderedDict()

    def _attempt_started(self, environ: dict[str, Any]) -> str:
        """The call's invocation id (remembered), after logging a retry with its earlier answer."""
        invocation = str(environ.get("HTTP_AMZ_SDK_INVOCATION_ID", ""))
        if not invocation:
            return ""
        attempt = _ATTEMPT.search(str(environ.get("HTTP_AMZ_SDK_REQUEST", "")))
        with self._lock:
            earlier = self._answers.pop(invocation, None)
            self._answers[invocation] = ""
            while len(self._answers) > REMEMBERED_CALLS:
                self._answers.popitem(last=False)
        if attempt and int(attempt[1]) >= 2:
            answered = {None: "not seen", "": "still in flight"}.get(earlier, f"answered {earlier}")
            RETRY_LOG.warning(
                "retried request: %s:%s attempt %s (invocation %s); the earlier attempt: %s",
                _service(environ),
                _request_action(environ),
                attempt[1],
                invocation,
                answered,
            )
        return invocation

    def _attempt_answered(self, invocation: str, status: int) -> None:
        if invocation:
            with self._lock:
                if invocation in self._answers:
                    self._answers[invocation] = str(status)

    def record(self, failure: Failure) -> None:
        line = json.dumps(failure.__dict__) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as journal:
            journal.write(line)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        invocation = self._attempt_started(environ)

        def recording_start_response(status: str, headers: Any, *args: Any) -> Any:
            code = int(status.split()[0])
            self._attempt_answered(invocation, code)
            if code >= 500:
                self.record(Failure(time.time(), _service(environ), _request_action(environ), code, False))
            return start_response(status, headers, *args)

        try:
            return self.app(environ, recording_start_response)
        except NotImplementedError as missing:
            # moto's BaseResponse.call_action: "The create_backup_selection action has not been implemented".
            match = _NOT_IMPLEMENTED.search(str(missing))
            action = _camel(match[1]) if match else _request_action(environ)
            self.record(Failure(time.time(), _service(environ), action, 500, True))
            raise  # served exactly as before (werkzeug's 500): the journal only watches


def read_failures(path: Path, offset: int = 0) -> tuple[list[Failure], int]:
    """The failures recorded after byte ``offset``, and the offset to read from next time."""
    try:
        with open(path, encoding="utf-8") as journal:
            journal.seek(offset)
            text = journal.read()
    except FileNotFoundError:
        return [], offset
    complete, _, _ = text.rpartition("\n")
    if not complete:
        return [], offset
    failures = [Failure(**json.loads(line)) for line in complete.splitlines() if line.strip()]
    return failures, offset + len(complete.encode("utf-8")) + 1


def iter_lines(failures: Iterable[Failure]) -> Iterator[str]:
    for failure in failures:
        yield f"{failure.service_action} → {failure.status}{' (not implemented)' if failure.not_implemented else ''}"
