"""A retried call is answered as the emulator answered its earlier attempt, when that attempt succeeded.

The AWS SDKs retry a call whose attempt timed out or lost its connection, with the same
``amz-sdk-invocation-id`` and ``amz-sdk-request: attempt=N``. Against AWS that is rare. Against one
emulator process on a loaded two-core machine, an attempt can outlast its client's patience while
moto is still performing it, or its answer can be lost on the way back; the retry then fails where
the first attempt succeeded: RevokeSecurityGroupEgress "InvalidPermission.NotFound" (the default
rule the first attempt revoked -- `terraform apply` failed on it in CI), CreateAlias and CreateStage
"already exists". AWS would have answered the first attempt in time, so here the emulator gives the
retry the answer the client missed: it waits for an attempt still in flight, and replays an
attempt's 2xx answer. Anything else -- an earlier attempt that failed, or that an injected fault
touched (core/local/emulator/fault_injection.py marks those) -- is performed again, exactly as AWS
would perform a retry: a fault's consequences stay the client's to handle.

Each retry is said in the emulator's log with what became of it (payments.emulator.retries): the
evidence `local up` quotes when an apply fails (lifecycle.py).

Upstream: not moto's to fix -- its server is a development server, and real services answer
retries without an invocation-id cache; this is the emulator's stand-in for AWS answering in time.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A deployment makes a few thousand calls; a retry comes within seconds of its first attempt.
REMEMBERED_CALLS = 4096
# Answers larger than this are not kept (a function's code, an object): such a retry is performed again.
LARGEST_KEPT_ANSWER = 256 * 1024
# How long a retry waits for an attempt still in flight: the slowest moto call seen (a Lambda
# CreateFunction while the machine is busy) takes seconds; past this the retry is performed.
IN_FLIGHT_WAIT_S = 120.0
RETRY_LOG = logging.getLogger("payments.emulator.retries")
# Set by the fault injection on a call it stalled or failed: such an attempt's answer is never replayed.
FAULT_MARK = "payments.fault_injected"

_ATTEMPT = re.compile(r"attempt=(\d+)")
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class _Attempt:
    """The latest attempt of one call: its answer once given (``done``), kept if it can be replayed."""

    done: threading.Event = field(default_factory=threading.Event)
    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None  # None: not replayable (not 2xx, too large, faulted, or failed mid-answer)

    @property
    def replayable(self) -> bool:
        return self.body is not None

    def describe(self) -> str:
        if not self.done.is_set():
            return "still in flight"
        return f"answered {self.status.split()[0]}" if self.status else "failed without an answer"


def call_name(environ: dict[str, Any]) -> str:
    """service:Action as the request says them ("kms:CreateAlias"); "?" for what it does not say."""
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        action = target.rsplit(".", 1)[-1]
    else:
        match = re.search(r"(?:^|&)Action=([A-Za-z0-9]+)", environ.get("QUERY_STRING", "") + "&" + _form(environ))
        action = match[1] if match else ""
    return f"{scope[1] if scope else '?'}:{action or environ.get('REQUEST_METHOD', '?')}"


def _form(environ: dict[str, Any]) -> str:
    """A query-protocol call's form body (EC2, SQS, IAM name their Action there), put back for moto."""
    if not str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        return ""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body.decode("utf-8", "replace")


class RetriedCalls:
    """WSGI middleware: serves as ``app`` does, but answers a retry of a call whose earlier attempt
    succeeded with that attempt's answer."""

    def __init__(self, app: WsgiApp, in_flight_wait_s: float = IN_FLIGHT_WAIT_S) -> None:
        self.app = app
        self.in_flight_wait_s = in_flight_wait_s
        self._lock = threading.Lock()
        self._calls: OrderedDict[str, _Attempt] = OrderedDict()  # invocation id → its latest attempt

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        invocation = str(environ.get("HTTP_AMZ_SDK_INVOCATION_ID", ""))
        if not invocation:
            return self.app(environ, start_response)
        attempt_header = _ATTEMPT.search(str(environ.get("HTTP_AMZ_SDK_REQUEST", "")))
        attempt = int(attempt_header[1]) if attempt_header else 1
        with self._lock:
            earlier = self._calls.get(invocation) if attempt >= 2 else None
        if earlier is not None:
            earlier.done.wait(self.in_flight_wait_s)
            if earlier.done.is_set() and earlier.replayable:
                self._say(environ, attempt, invocation, f"{earlier.describe()}: its answer replayed")
                start_response(earlier.status, list(earlier.headers))
                return [earlier.body or b""]
            self._say(environ, attempt, invocation, f"{earlier.describe()}: performed again")
        elif attempt >= 2:
            self._say(environ, attempt, invocation, "not seen: performed")
        return self._perform(environ, start_response, invocation)

    def _say(self, environ: dict[str, Any], attempt: int, invocation: str, what: str) -> None:
        RETRY_LOG.warning(
            "retried request: %s attempt %s (invocation %s); the earlier attempt: %s",
            call_name(environ),
            attempt,
            invocation,
            what,
        )

    def _perform(self, environ: dict[str, Any], start_response: Callable[..., Any], invocation: str) -> list[bytes]:
        current = _Attempt()
        with self._lock:
            self._calls.pop(invocation, None)
            self._calls[invocation] = current
            while len(self._calls) > REMEMBERED_CALLS:
                self._calls.popitem(last=False)
        try:

            def keeping_start_response(status: str, headers: Any, *args: Any) -> Any:
                current.status, current.headers = status, list(headers)
                return start_response(status, headers, *args)

            result = self.app(environ, keeping_start_response)
            try:  # moto answers from memory: reading it whole here costs nothing and lets it be kept
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if current.status.startswith("2") and not environ.get(FAULT_MARK) and len(body) <= LARGEST_KEPT_ANSWER:
                current.body = body
            return [body]
        finally:
            current.done.set()


def retries_said(emulator_log: Path, last: int = 10) -> list[str]:
    """The emulator log's last ``last`` lines about retried calls (the evidence for a failed apply)."""
    try:
        text = emulator_log.read_text(errors="replace")
    except OSError:
        return []
    return [line.split("retried request: ", 1)[1] for line in text.splitlines() if "retried request: " in line][-last:]
