"""The PCI DSS control map of one environment, read from its synthesized configuration.

For every known requirement: the resources plugins registered as evidence, with the attribute
values Terraform will receive, checkov's result for each resource (and the baseline's reason
where a check fails), and the baseline entries filed under the requirement. A requirement
without evidence is listed and flagged, never left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from payments_platform.core.evidence import ControlRegistry, Evidence
from payments_platform.core.ops.compliance.baseline import Baseline, BaselineEntry
from payments_platform.core.ops.compliance.checkov import CheckovReport
from payments_platform.core.pci_requirements import REQUIREMENTS, STANDARD, requirement_ids

EVIDENCED = "evidenced"
INCOMPLETE = "evidence incomplete"
MISSING = "no evidence"
_ABSENT = object()


@dataclass
class CheckFinding:
    check: str
    name: str
    baseline_reason: str | None  # None: a finding outside the baseline


@dataclass
class EvidenceRow:
    plugin: str
    address: str
    note: str
    values: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: list[CheckFinding] = field(default_factory=list)


@dataclass
class ControlRow:
    requirement: str
    title: str
    status: str
    evidence: list[EvidenceRow]
    baseline: list[dict[str, Any]]


@dataclass
class ControlMap:
    environment: str
    stack: str
    checkov_version: str
    controls: list[ControlRow]

    def summary(self) -> dict[str, int]:
        counts = {EVIDENCED: 0, INCOMPLETE: 0, MISSING: 0}
        for row in self.controls:
            counts[row.status] += 1
        return counts


def build_control_map(
    environment: str,
    stack: str,
    config: Mapping[str, Any],
    controls: ControlRegistry,
    report: CheckovReport,
    baseline: Baseline,
) -> ControlMap:
    resources = _resources_by_path(config)
    rows = []
    for requirement in requirement_ids():
        evidence = [
            _row(e, resources, stack, environment, report, baseline) for e in controls.for_requirement(requirement)
        ]
        if not evidence:
            status = MISSING
        elif any(row.problems for row in evidence):
            status = INCOMPLETE
        else:
            status = EVIDENCED
        rows.append(
            ControlRow(
                requirement,
                REQUIREMENTS[requirement].title,
                status,
                evidence,
                [_baseline_row(entry) for entry in baseline.for_requirement(requirement, environment)],
            )
        )
    return ControlMap(environment, stack, report.version, rows)


def _baseline_row(entry: BaselineEntry) -> dict[str, Any]:
    return {
        "check": entry.check,
        "resources": list(entry.resources),
        "reason": entry.reason,
        "requirement": entry.requirement,
        # whose decision: the platform's file, a plugin distribution's, or a rule of construction
        "excused_by": entry.label,
    }


def _resources_by_path(config: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    return {
        body.get("//", {}).get("metadata", {}).get("path", ""): (f"{rtype}.{logical_id}", body)
        for rtype, items in (config.get("resource") or {}).items()
        for logical_id, body in items.items()
    }


def _row(
    evidence: Evidence,
    resources: Mapping[str, tuple[str, Mapping[str, Any]]],
    stack: str,
    environment: str,
    report: CheckovReport,
    baseline: Baseline,
) -> EvidenceRow:
    if evidence.path not in resources:
        return EvidenceRow(
            evidence.plugin, evidence.path, evidence.note, {}, ["resource is not in the synthesized configuration"]
        )
    address, body = resources[evidence.path]
    row = EvidenceRow(evidence.plugin, address, evidence.note, {})
    for attribute in evidence.attributes:
        value = attribute_value(body, attribute)
        row.values[attribute] = None if value is _ABSENT else value
        if value is _ABSENT or value is None:
            row.problems.append(f"{attribute} is not set")
    for attribute, expected in evidence.expect:
        value = attribute_value(body, attribute)
        row.values[attribute] = None if value is _ABSENT else value
        if value != expected:
            row.problems.append(f"{attribute} is {None if value is _ABSENT else value!r}, expected {expected!r}")
    for result in report.for_resource(stack, address):
        if result.passed:
            row.checks_passed += 1
            continue
        entry = baseline.entry_for(environment, result.check_id, address)
        row.checks_failed.append(CheckFinding(result.check_id, result.check_name, entry.reason if entry else None))
        if entry is None:
            row.problems.append(f"checkov {result.check_id} fails outside the baseline")
    return row


def attribute_value(body: Mapping[str, Any], dotted: str) -> Any:
    """``a.b.0.c`` in a resource body; list indexes are numbers. ``_ABSENT`` when missing."""
    value: Any = body
    for part in dotted.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return _ABSENT
    return value


def render_json(control_map: ControlMap) -> str:
    document = {"standard": STANDARD, **asdict(control_map), "summary": control_map.summary()}
    return json.dumps(document, indent=2, default=str) + "\n"


# -- markdown --------------------------------------------------------------------------------

MAX_VALUE = 90


def render_markdown(control_map: ControlMap) -> str:
    summary = control_map.summary()
    lines = [
        f"# {STANDARD} control map: {control_map.stack}",
        "",
        f"Generated from the synthesized Terraform configuration of environment `{control_map.environment}` by "
        f"`payments-platform compliance --env {control_map.environment} --format md` (`make compliance-docs`); "
        f"checkov {control_map.checkov_version}; baseline `compliance/checkov-baseline.toml`. Do not edit: a test "
        "fails when this file differs from a fresh generation.",
        "",
        "Each requirement lists the resources plugins registered as evidence (`ctx.compliance.evidence`), the "
        "attribute values read from the synth, checkov's result on each resource and the reviewed baseline "
        f"entries filed under it. A requirement without evidence is flagged **{MISSING.upper()}**; one whose "
        f"evidence does not hold is flagged **{INCOMPLETE.upper()}**.",
        "",
        f"Summary: {summary[EVIDENCED]} evidenced, {summary[INCOMPLETE]} incomplete, {summary[MISSING]} without evidence.",
        "",
        "| requirement | status | evidence | baselined findings |",
        "|---|---|---|---|",
    ]
    for row in control_map.controls:
        status = row.status if row.status == EVIDENCED else f"**{row.status.upper()}**"
        lines.append(f"| [{row.requirement}](#{_anchor(row)}) | {status} | {len(row.evidence)} | {len(row.baseline)} |")
    for row in control_map.controls:
        lines += ["", f"## {row.requirement} {row.title}"]
        if row.status == MISSING:
            lines += ["", f"**{MISSING.upper()}**: no enabled plugin registered evidence for this requirement."]
        elif row.status == INCOMPLETE:
            lines += ["", f"**{INCOMPLETE.upper()}**: see the problems listed below."]
        if row.evidence:
            lines += ["", "| resource | plugin | values in the synth | checkov | how |", "|---|---|---|---|---|"]
            for ev in row.evidence:
                values = "<br>".join(f"`{k}` = `{_short(v)}`" for k, v in ev.values.items())
                checks = f"{ev.checks_passed} passed" + "".join(
                    f"<br>{c.check} failed: {'baselined' if c.baseline_reason else '**NOT IN BASELINE**'}"
                    for c in ev.checks_failed
                )
                how = ev.note + "".join(f"<br>**problem**: {p}" for p in ev.problems)
                lines.append(f"| `{ev.address}` | {ev.plugin} | {values} | {checks} | {_cell(how)} |")
        if row.baseline:
            lines += ["", "Reviewed findings (baseline):", ""]
            for entry in row.baseline:
                lines.append(
                    f"- {entry['check']} on {len(entry['resources'])} resource(s), {entry['excused_by']}: "
                    f"{entry['reason']} (behind it: {entry['requirement']})"
                )
    return "\n".join(lines) + "\n"


def _anchor(row: ControlRow) -> str:
    text = f"{row.requirement} {row.title}".lower()
    return "".join(ch for ch in text if ch.isalnum() or ch in " -").replace(" ", "-")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    text = text.replace("|", "\\|").replace("`", "'")
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
