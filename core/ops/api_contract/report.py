"""What a contract run found: schemathesis' JSON report, and its HAR log read for card data.

PCI DSS 3.3.1 / 3.4.1: whatever the fuzzer sends, no response (body or header) may carry card data
-- checked on every recorded exchange, not on a sample, by what the enabled plugins say card data
is (``payments_card_data``: the api plugin's detector, runtime/redaction.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# True when a text holds card data.
CardDataCheck = Callable[[str], bool]


@dataclass(frozen=True)
class ContractReport:
    """What one schemathesis run reported."""

    exit_code: int
    generated: int
    failures: int
    errors: int
    seconds: float
    phases: dict[str, str]
    report_path: Path
    exchanges: int = 0
    card_data_echoes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and self.failures == 0 and self.errors == 0 and not self.card_data_echoes

    def summary(self) -> str:
        phases = ", ".join(f"{name} {status}" for name, status in self.phases.items())
        verdict = (
            "passed"
            if self.passed
            else (
                f"FAILED ({self.failures} failure(s), {self.errors} error(s), "
                f"{len(self.card_data_echoes)} response(s) carrying card data)"
            )
        )
        return (
            f"contract {verdict}: {self.generated} generated cases, {self.exchanges} HTTP exchanges checked for card "
            f"data, {self.seconds:.0f} s ({phases})"
        )

    @classmethod
    def read(cls, json_report: Path, har: Path, exit_code: int, holds_card_data: CardDataCheck) -> ContractReport:
        report: dict[str, Any] = json.loads(json_report.read_text())
        cases = report.get("test_cases") or {}
        entries = json.loads(har.read_text())["log"]["entries"] if har.is_file() else []
        return cls(
            exit_code=exit_code,
            generated=int(cases.get("generated", 0)),
            failures=int(cases.get("unique_failures", 0)),
            errors=len(report.get("errors") or []) + int(cases.get("errored", 0)),
            seconds=float(report.get("running_time", 0.0)),
            phases={name: (phase or {}).get("status", "?") for name, phase in (report.get("phases") or {}).items()},
            report_path=json_report,
            exchanges=len(entries),
            card_data_echoes=list(card_data_echoes(entries, holds_card_data)),
        )


def card_data_echoes(entries: list[dict[str, Any]], holds_card_data: CardDataCheck) -> Iterator[str]:
    """``METHOD url → status`` of every HAR entry whose response body or headers hold card data."""
    for entry in entries:
        request, response = entry["request"], entry["response"]
        body = (response.get("content") or {}).get("text") or ""
        headers = "\n".join(f"{header.get('name')}: {header.get('value')}" for header in response.get("headers") or [])
        if holds_card_data(body) or holds_card_data(headers):
            yield f"{request['method']} {request['url']} → {response['status']}"
