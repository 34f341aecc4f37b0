"""What a contract run found: schemathesis' JSON report, and its HAR log read for card data.

PCI DSS 3.3.1 / 3.4.1: whatever the fuzzer sends, no response may carry the card number it sent,
nor any ``number`` / ``cvc`` field -- checked on every recorded exchange, not on a sample.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A PAN-length digit run: shorter generated "numbers" are not card numbers and could appear by chance.
PAN_CANDIDATE = re.compile(r"\A[0-9]{12,19}\Z")
CARD_FIELDS = frozenset({"number", "cvc"})


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
    def read(cls, json_report: Path, har: Path, exit_code: int) -> ContractReport:
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
            card_data_echoes=list(card_data_echoes(entries)),
        )


def card_data_echoes(entries: list[dict[str, Any]]) -> Iterator[str]:
    """``METHOD url → status`` of every HAR entry whose response holds the card number its request
    sent, or a ``number`` / ``cvc`` field."""
    for entry in entries:
        request, response = entry["request"], entry["response"]
        body = (response.get("content") or {}).get("text") or ""
        headers = "\n".join(str(header.get("value")) for header in response.get("headers") or [])
        sent = _card_values(_json((request.get("postData") or {}).get("text")), "number")
        numbers = [number for number in sent if PAN_CANDIDATE.match(number)]
        if any(number in body or number in headers for number in numbers) or any(_has_card_field(_json(body))):
            yield f"{request['method']} {request['url']} → {response['status']}"


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _card_values(document: Any, name: str) -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            if key == name and isinstance(value, str):
                yield value
            yield from _card_values(value, name)
    elif isinstance(document, list):
        for item in document:
            yield from _card_values(item, name)


def _has_card_field(document: Any) -> Iterator[bool]:
    if isinstance(document, dict):
        for key, value in document.items():
            yield key in CARD_FIELDS
            yield from _has_card_field(value)
    elif isinstance(document, list):
        for item in document:
            yield from _has_card_field(item)
