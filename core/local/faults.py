"""Faults injected into a running local deployment, declared, logged and cleared (AWS Fault
Injection Service, toxiproxy and LocalStack's chaos API are the models).

A fault is a rule in the run directory's ``faults.json``. The process that serves the call applies
it: the emulator (emulator/fault_injection.py) for AWS API calls -- by service, action, resource and
a text of the request body -- and the gateway's Lambda service (lambdafn/service.py) for the
functions' containers. Each process re-reads the file when it changes and keeps the hit counts of
its own rules; every hit is one JSON line in ``faults.log`` and one line in that process's log.
Nothing is synthesized differently: the deployment is the one ``local up`` applied.

The rules themselves (kinds, validation, matching) are the contract's: core/fault_rules.py.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

# Re-exported: the CLI, the processes that apply rules and the tests read them from here.
from payments_platform.core.fault_rules import FUNCTION_SERVICE as FUNCTION_SERVICE
from payments_platform.core.fault_rules import FaultError as FaultError
from payments_platform.core.fault_rules import FaultRule

FAULTS_FILE = "faults.json"
HITS_FILE = "faults.log"


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

    def empty(self) -> bool:
        """No rule in the run's file (re-read when it changed): a call needs no describing to pass."""
        with self._lock:
            self._refresh()
            return not self._rules

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
