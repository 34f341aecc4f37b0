"""The emulator's failure journal: every request it could not serve, one JSON line each, for
``local up`` / ``local smoke`` to watch while Terraform works (lifecycle.py).

A plugin whose resource moto does not implement otherwise hangs ``terraform apply``: moto raises
``NotImplementedError`` (werkzeug answers 500), the provider retries a 500 for minutes, and nothing
reaches the console. Here each such request is recorded with its service and action, so the run can
fail within seconds, naming them.

A client's retry of a failed call is said in the emulator's log by retried_calls.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NOT_IMPLEMENTED = re.compile(r"The (\w+) action has not been implemented")
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")

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

    def record(self, failure: Failure) -> None:
        line = json.dumps(failure.__dict__) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as journal:
            journal.write(line)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def recording_start_response(status: str, headers: Any, *args: Any) -> Any:
            code = int(status.split()[0])
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
