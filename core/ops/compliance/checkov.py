"""Run the pinned checkov on synthesized stacks and read its results.

checkov lives in a tool environment of its own (``.venv-checkov``, made by the Makefile from
compliance/checkov-requirements.txt): its dependencies clash with the platform's. One checkov
process scans every stack (its start-up is most of its cost), offline: ``--skip-download``
and ``BC_SKIP_MAPPING=TRUE``.

checkov 3.3.30's terraform_json runner ignores inline ``checkov:skip`` comments (verified: a
skip in a resource's ``//`` comment leaves the finding failed), so the gate filters checkov's
JSON output through our own baseline (baseline.py) instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payments_platform.core.errors import ComplianceError

CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = ".venv-checkov"
CHECKOV_ENV_VAR = "PAYMENTS_CHECKOV"
TIMEOUT_SECONDS = 300
INSTALL_HINT = f"run `make {CHECKOV_VENV}/.installed` or set {CHECKOV_ENV_VAR} to a checkov {CHECKOV_VERSION} binary"

# Top-level blocks that configure no resource, left out of what checkov reads: checkov 3.3.30's
# terraform_json parser fails on a list-valued top-level block (Terraform's `moved`, `import`) and
# then scans nothing in that stack (a parsing error, not a finding).
NOT_SCANNED = ("moved", "import", "removed")

# checkov logs a check that crashed instead of reporting it: "Failed to run check X on /stack/file:address"
_CHECK_CRASH = re.compile(r"Failed to run check (\S+) on /([^/]+)/[^:]+:(\S+)")


@dataclass(frozen=True)
class CheckResult:
    stack: str
    check_id: str
    check_name: str
    address: str  # <resource type>.<logical id>, as Terraform names it
    passed: bool


@dataclass
class CheckovReport:
    version: str
    results: list[CheckResult] = field(default_factory=list)
    not_evaluated: list[tuple[str, str, str]] = field(default_factory=list)  # (stack, check, address)

    def failed(self, stack: str) -> list[CheckResult]:
        return sorted((r for r in self.results if r.stack == stack and not r.passed), key=_order)

    def for_resource(self, stack: str, address: str) -> list[CheckResult]:
        return sorted((r for r in self.results if r.stack == stack and r.address == address), key=_order)


def _order(result: CheckResult) -> tuple[str, str]:
    return (result.address, result.check_id)


def locate_checkov(start: Path) -> Path:
    """``$PAYMENTS_CHECKOV``, else ``.venv-checkov/bin/checkov`` in ``start`` or a parent."""
    if os.environ.get(CHECKOV_ENV_VAR):
        candidate = Path(os.environ[CHECKOV_ENV_VAR])
        if not candidate.is_file():
            raise ComplianceError(f"{CHECKOV_ENV_VAR}={candidate} is not a file; {INSTALL_HINT}")
        return candidate
    for directory in (start.resolve(), *start.resolve().parents):
        candidate = directory / CHECKOV_VENV / "bin" / "checkov"
        if candidate.is_file():
            return candidate
    raise ComplianceError(f"checkov not found (no {CHECKOV_VENV} above {start}); {INSTALL_HINT}")


def run_checkov(configs: Mapping[str, Mapping[str, Any]], binary: Path) -> CheckovReport:
    """Scan each synthesized stack (stack name → Terraform JSON) in one checkov run."""
    with tempfile.TemporaryDirectory(prefix="payments-checkov-") as tmp:
        for stack, config in configs.items():
            (Path(tmp) / stack).mkdir()
            scanned = {key: value for key, value in config.items() if key not in NOT_SCANNED}
            (Path(tmp) / stack / "cdk.tf.json").write_text(json.dumps(scanned))
        command = [
            str(binary),
            "--directory",
            tmp,
            "--framework",
            "terraform_json",
            "--output",
            "json",
            "--skip-download",
        ]
        try:
            completed = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ComplianceError(f"checkov ({binary}) did not run: {exc}") from None
    try:
        raw = json.loads(completed.stdout)
    except json.JSONDecodeError:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise ComplianceError(f"checkov exited {completed.returncode} without a JSON report: {last}") from None
    return parse_report(raw, configs, completed.stderr)


def parse_report(raw: Any, configs: Mapping[str, Mapping[str, Any]], stderr: str = "") -> CheckovReport:
    reports = raw if isinstance(raw, list) else [raw]
    if not reports or not any(r.get("check_type") == "terraform_json" for r in reports if isinstance(r, dict)):
        # checkov prints a bare summary when it found nothing to scan
        raise ComplianceError("checkov produced no terraform_json results: nothing was scanned")
    (report,) = [r for r in reports if r.get("check_type") == "terraform_json"]
    version = str(report.get("summary", {}).get("checkov_version", "unknown"))
    if version != CHECKOV_VERSION:
        raise ComplianceError(
            f"checkov {version} found; the gate's baseline was reviewed with {CHECKOV_VERSION}; {INSTALL_HINT}"
        )
    unparsed = report.get("results", {}).get("parsing_errors") or []
    if unparsed or report.get("summary", {}).get("parsing_errors"):
        stacks = sorted({Path(path).parent.name for path in unparsed})
        raise ComplianceError(
            f"checkov could not parse {', '.join(stacks) or 'a stack'}: nothing in it was scanned "
            "(run checkov on the synth to see why)"
        )
    types = {stack: _types_by_logical_id(config) for stack, config in configs.items()}
    results: list[CheckResult] = []
    for outcome, passed in (("passed_checks", True), ("failed_checks", False)):
        for item in report.get("results", {}).get(outcome, []):
            stack = Path(item["file_path"]).parts[1]
            results.append(
                CheckResult(
                    stack,
                    item["check_id"],
                    item.get("check_name", ""),
                    _address(item["resource"], types[stack]),
                    passed,
                )
            )
    crashed = sorted({(stack, check, address) for check, stack, address in _CHECK_CRASH.findall(stderr)})
    return CheckovReport(version, results, crashed)


def _types_by_logical_id(config: Mapping[str, Any]) -> dict[str, str]:
    return {logical_id: rtype for rtype, items in (config.get("resource") or {}).items() for logical_id in items}


def _address(resource: str, types: Mapping[str, str]) -> str:
    """checkov names some resources ``resource.<logical id>`` (its graph checks use the type):
    one spelling, ``<type>.<logical id>``, for both."""
    kind, _, logical_id = resource.partition(".")
    if kind == "resource" and logical_id in types:
        return f"{types[logical_id]}.{logical_id}"
    return resource
