"""Faults injected into a running local deployment, declared, logged and cleared (AWS Fault
Injection Service, toxiproxy and LocalStack's chaos API are the models).

A fault is a rule in the run directory's ``faults.json``. The process that serves the call applies
it: the emulator (emulator/fault_injection.py) for AWS API calls -- by service, action, resource and
a text of the request body -- and the gateway's Lambda service (lambdafn/service.py) for the
functions' containers. Each process re-reads the file when it changes and keeps the hit counts of
its own rules; every hit is one JSON line in ``faults.log`` and one line in that process's log.
Nothing is synthesized differently: the deployment is the one ``local up`` applied.

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
import json
import os
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from payments_platform.core.errors import PlatformError

FAULTS_FILE = "faults.json"
HITS_FILE = "faults.log"
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
    kind: str
    service: str  # the AWS signing name (dynamodb, sqs, sns, s3, ...) or "function"
    action: str = "*"  # the API action (TransactWriteItems); Invoke / Init for a function
    resource: str = "*"  # glob: table name, queue URL, topic ARN, bucket/key; a function's name
    contains: str = ""  # a text the request body must hold (e.g. part of an UpdateExpression)
    error: str = ""  # error / error_after: a named error or an AWS error code
    status: int = 0  # the HTTP status of a coded error (0: the named error's, else 400)
    delay_ms: int = 0
    count: int | None = None
    probability: float = 1.0
    id: str = field(default_factory=lambda: "f-" + secrets.token_hex(3))

    def __post_init__(self) -> None:
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
        return (
            fnmatch.fnmatchcase(service, self.service)
            and fnmatch.fnmatchcase(action, self.action)
            and any(fnmatch.fnmatchcase(name, self.resource) for name in (resource.split(",") or [""]))
            and (not self.contains or self.contains.encode() in body)
        )

    def describe(self) -> str:
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


def faults_file(run_dir: Path) -> Path:
    return run_dir / FAULTS_FILE


def read_rules(run_dir: Path) -> list[FaultRule]:
    try:
        data = json.loads(faults_file(run_dir).read_text())
    except FileNotFoundError:
        return []
    return [FaultRule.from_json(entry) for entry in data.get("faults", [])]


def _write_rules(run_dir: Path, rules: list[FaultRule]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    temporary = run_dir / f".{FAULTS_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps({"faults": [asdict(rule) for rule in rules]}, indent=2))
    temporary.replace(faults_file(run_dir))


def add_fault(run_dir: Path, rule: FaultRule) -> FaultRule:
    _write_rules(run_dir, [*read_rules(run_dir), rule])
    return rule


def clear_faults(run_dir: Path, ids: list[str] | None = None) -> list[FaultRule]:
    """Remove the rules named (all when none): they stop applying at the serving processes' next
    call. Returns what was removed; the hit log stays."""
    rules = read_rules(run_dir)
    unknown = sorted(set(ids or ()) - {rule.id for rule in rules})
    if unknown:
        raise FaultError(f"no such fault: {', '.join(unknown)}")
    removed = [rule for rule in rules if not ids or rule.id in ids]
    _write_rules(run_dir, [rule for rule in rules if rule not in removed])
    return removed


def read_hits(run_dir: Path) -> list[dict[str, Any]]:
    try:
        lines = (run_dir / HITS_FILE).read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def hits_by_rule(run_dir: Path) -> Counter[str]:
    return Counter(hit["fault"] for hit in read_hits(run_dir))


class FaultBook:
    """A serving process's view of the run's rules: re-read when the file changes, each rule's
    remaining count kept here (a rule applies in one process: AWS calls in the emulator,
    containers in the gateway), every hit logged."""

    def __init__(self, run_dir: Path, log: Any = None, rng: random.Random | None = None) -> None:
        self._run_dir = run_dir
        self._log = log  # a callable taking one line, or None
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._rules: list[FaultRule] = []
        self._used: Counter[str] = Counter()

    def _refresh(self) -> None:
        try:
            stat = faults_file(self._run_dir).stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._rules = read_rules(self._run_dir)
        except (ValueError, TypeError, OSError) as error:  # a half-edited file: keep serving, say why
            self._rules = []
            if self._log is not None:
                self._log(f"fault rules unreadable, none applied: {error}")

    def take(self, service: str, action: str, resource: str, body: bytes = b"", **context: Any) -> FaultRule | None:
        """The first rule that applies to this call (its count taken and the hit logged), or None."""
        rule = self.match(service, action, resource, body)
        if rule is not None and self.claim(rule, service, action, resource, **context):
            return rule
        return None

    def match(self, service: str, action: str, resource: str, body: bytes = b"") -> FaultRule | None:
        """The first rule that applies to this call, its probability drawn, nothing counted: a
        fault that strikes later (a kill part-way through) is claimed when it strikes."""
        with self._lock:
            self._refresh()
            for rule in self._rules:
                if rule.count is not None and self._used[rule.id] >= rule.count:
                    continue
                if not rule.matches(service, action, resource, body):
                    continue
                if rule.probability < 1 and self._rng.random() >= rule.probability:
                    continue
                return rule
        return None

    def claim(self, rule: FaultRule, service: str, action: str, resource: str, **context: Any) -> bool:
        """Count and log one hit of ``rule``; False when its count is spent (or it was cleared)."""
        with self._lock:
            self._refresh()
            if rule not in self._rules or (rule.count is not None and self._used[rule.id] >= rule.count):
                return False
            self._used[rule.id] += 1
            self._record(rule, service, action, resource, context)
            return True

    def _record(self, rule: FaultRule, service: str, action: str, resource: str, context: Mapping[str, Any]) -> None:
        hit = {
            "time": round(time.time(), 3),
            "fault": rule.id,
            "kind": rule.kind,
            "service": service,
            "action": action,
            "resource": resource,
            **context,
        }
        with open(self._run_dir / HITS_FILE, "a") as log:
            log.write(json.dumps(hit) + "\n")
        if self._log is not None:
            extra = " ".join(f"{k}={v}" for k, v in context.items())
            self._log(f"fault {rule.id} ({rule.kind}) hit {service}:{action} {resource} {extra}".rstrip())
