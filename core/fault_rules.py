"""A fault, declared: what fails, where, how often and for how long (AWS Fault Injection Service and
toxiproxy are the models). Part of the plugin contract: a plugin's chaos scenario
(``payments_chaos_scenarios``) declares the faults its experiment needs with :class:`FaultRule`;
core/local/faults.py stores the rules of a running local deployment and core/local's processes
apply them.

Kinds:
  error        the call fails with an AWS error (``throttling``, ``internal``, ``access-denied`` or a code)
               and is not performed;
  error_after  the call is performed (a write commits), then the caller gets the error -- after
               ``delay_ms`` of silence, so a delay longer than its read timeout is a timeout;
  stall        the call is performed after ``delay_ms`` of latency;
  kill         a container of the function is killed ``delay_ms`` into an invocation;
  cold_start   the function's next cold start fails (its runtime dies before taking work).
A rule applies to ``count`` matching calls (unlimited when unset), each with ``probability``.
"""

from __future__ import annotations

import fnmatch
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from payments_platform.core.errors import PlatformError

AWS_KINDS = ("error", "error_after", "stall")
CONTAINER_KINDS = ("kill", "cold_start")
KINDS = AWS_KINDS + CONTAINER_KINDS
# The container faults' service and actions: what Lambda does with the function.
FUNCTION_SERVICE = "function"
CONTAINER_ACTION = {"kill": "Invoke", "cold_start": "Init"}

# Named errors, as each service answers them: (code, HTTP status). Anything else given as an error
# is used as the code itself, with status 400 (or --status).
NAMED_ERRORS: dict[str, dict[str, tuple[str, int]]] = {
    "throttling": {
        "dynamodb": ("ThrottlingException", 400),
        "sqs": ("RequestThrottled", 400),
        "sns": ("Throttled", 400),
        "s3": ("SlowDown", 503),
        "*": ("ThrottlingException", 400),
    },
    "internal": {
        "dynamodb": ("InternalServerError", 500),
        "sqs": ("InternalError", 500),
        "sns": ("InternalError", 500),
        "s3": ("InternalError", 500),
        "*": ("InternalFailure", 500),
    },
    "access-denied": {
        "dynamodb": ("AccessDeniedException", 400),
        "sqs": ("AccessDenied", 403),
        "sns": ("AuthorizationError", 403),
        "s3": ("AccessDenied", 403),
        "*": ("AccessDeniedException", 403),
    },
}


class FaultError(PlatformError):
    """A fault rule that cannot be applied (one clear line for the CLI)."""


@dataclass(frozen=True)
class FaultRule:
    """One fault: which calls it hits (``service``, ``action``, ``resource``, ``contains``), what
    happens to them (``kind``, ``error``, ``delay_ms``) and how often (``count``, ``probability``).
    Invalid combinations are refused when the rule is made (:class:`FaultError`)."""

    kind: str  # error, error_after, stall (AWS calls); kill, cold_start (a function's containers)
    service: str  # the AWS signing name (dynamodb, sqs, sns, s3, ...) or "function"
    action: str = "*"  # the API action (TransactWriteItems); Invoke / Init for a function
    resource: str = "*"  # glob: table name, queue URL, topic ARN, bucket/key; a function's name
    contains: str = ""  # a text the request body (a function's invocation payload) must hold
    error: str = ""  # error / error_after: a named error or an AWS error code
    status: int = 0  # the HTTP status of a coded error (0: the named error's, else 400)
    delay_ms: int = 0  # error_after: silence before the error; stall: the latency; kill: into the invocation
    count: int | None = None  # how many matching calls it applies to (None: unlimited)
    probability: float = 1.0  # the chance it applies to each matching call
    id: str = ""  # names the rule in hits and `clear` (a fresh one when empty)

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", "f-" + secrets.token_hex(3))
        if self.kind in CONTAINER_KINDS:  # what Lambda does with the function when the fault hits
            object.__setattr__(self, "action", CONTAINER_ACTION[self.kind])
        if self.kind not in KINDS:
            raise FaultError(f"unknown fault kind {self.kind!r} (one of {', '.join(KINDS)})")
        if (self.service == FUNCTION_SERVICE) != (self.kind in CONTAINER_KINDS):
            raise FaultError(
                f"a {self.kind} fault applies to {'functions' if self.kind in CONTAINER_KINDS else 'AWS calls'}"
            )
        if self.kind in ("error", "error_after") and not self.error:
            raise FaultError(f"a {self.kind} fault needs an error (throttling, internal, access-denied or a code)")
        if not 0 < self.probability <= 1:
            raise FaultError(f"probability must be in (0, 1], got {self.probability}")
        if self.count is not None and self.count < 1:
            raise FaultError(f"count must be at least 1, got {self.count}")
        if self.delay_ms < 0 or (self.kind == "stall" and self.delay_ms == 0):
            raise FaultError("a stall needs a positive delay in milliseconds")

    def error_for(self, service: str) -> tuple[str, int]:
        """(code, HTTP status) this rule answers with."""
        named = NAMED_ERRORS.get(self.error)
        if named is not None:
            code, status = named.get(service, named["*"])
            return code, self.status or status
        return self.error, self.status or 400

    def matches(self, service: str, action: str, resource: str, body: bytes) -> bool:
        """Whether a call of ``service``/``action`` on ``resource`` with ``body`` is one this rule hits."""
        return (
            fnmatch.fnmatchcase(service, self.service)
            and fnmatch.fnmatchcase(action, self.action)
            and any(fnmatch.fnmatchcase(name, self.resource) for name in (resource.split(",") or [""]))
            and (not self.contains or self.contains.encode() in body)
        )

    def describe(self) -> str:
        """The rule in one line, as ``local fault list`` prints it."""
        what = {
            "error": f"fail with {self.error}",
            "error_after": f"perform, then fail with {self.error}"
            + (f" after {self.delay_ms} ms" if self.delay_ms else ""),
            "stall": f"stall {self.delay_ms} ms",
            "kill": f"kill the container {self.delay_ms} ms into an invocation",
            "cold_start": "fail the next cold start",
        }[self.kind]
        where = f"{self.service}:{self.action}" if self.service != FUNCTION_SERVICE else f"function {self.resource}"
        if self.service != FUNCTION_SERVICE and self.resource != "*":
            where += f" on {self.resource}"
        if self.contains:
            where += f" whose request holds {self.contains!r}"
        how_often = f"{self.count}×" if self.count is not None else "every time"
        if self.probability < 1:
            how_often += f" with p={self.probability:g}"
        return f"{where}: {what}, {how_often}"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultError(f"unknown fault field(s): {', '.join(unknown)}")
        return cls(**data)
