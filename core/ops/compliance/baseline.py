"""The reviewed checkov baseline (compliance/checkov-baseline.toml) and the gate's verdict.

Each ``[[finding]]`` entry names a check, the resource addresses it fails on, the
environments, the reason it stands and the requirement or specification line behind it.
The gate fails on a finding no entry covers, on an entry that no longer matches a finding
(stale: delete it), on an entry without a reason and on more than ``MAX_ENTRIES_PER_ENVIRONMENT``
entries in one environment -- each with one line naming the entry or the finding.

``updated(...)`` re-generates the file after the platform changed (say, a new plugin merged):
reviewed entries keep their reasons, stale addresses are dropped, and new findings are added
with an empty reason -- which fails the gate until someone reviews them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payments_platform.core.errors import ComplianceError
from payments_platform.core.ops.compliance.checkov import CheckResult
from payments_platform.core.pci_requirements import REQUIREMENTS, STANDARD

BASELINE_FILE = Path("compliance") / "checkov-baseline.toml"
# 12: local carries the AWS environments' reviewed decisions (the audit archive's three with them)
# plus three emulator-only entries (no Signer, no account CloudWatch role on moto).
MAX_ENTRIES_PER_ENVIRONMENT = 12
# A plugin distribution's own reviewed findings (PluginDeclaration.checkov_baseline), counted apart
# from the platform's: a third-party plugin neither uses up nor overflows the platform's cap.
MAX_ENTRIES_PER_DISTRIBUTION = 5
MIN_REASON = 20
CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
FIELDS = {"check", "resources", "environments", "reason", "requirement", "pci"}
HEADER = """\
# Reviewed checkov findings: the gate (tests/core/ops/compliance, `make compliance`) fails on any finding
# not listed here, on an entry without a reason, and on an entry that no longer matches a finding.
# Fix rather than baseline. Fields: check, resources (Terraform addresses), environments, reason,
# requirement (the requirement or specification line behind the decision), pci (PCI DSS v4.0 ids
# the control map shows the entry under). Regenerate after a change with
# `payments-platform compliance --gate --all --update-baseline`, then write the new reasons.
"""


@dataclass(frozen=True)
class BaselineEntry:
    index: int  # 1-based position in the file, for messages
    check: str
    resources: tuple[str, ...]
    environments: tuple[str, ...]
    reason: str
    requirement: str
    pci: tuple[str, ...] = ()
    # whose decision it is: "" the platform's file; a plugin's label for its distribution's entries
    owner: str = ""
    # the plugin whose distribution ships the entry ("" for the platform's file and for rules)
    plugin: str = ""
    # the exemption rule's name (rules.py) when the entry holds by construction rather than review
    rule: str = ""

    @property
    def label(self) -> str:
        if self.rule:
            return f"rule '{self.rule}' ({self.check})"
        return f"{self.owner + ' ' if self.owner else ''}baseline entry {self.index} ({self.check})"

    @property
    def reviewed_in_platform_file(self) -> bool:
        return not self.owner and not self.rule

    def covers(self, environment: str, check: str, address: str) -> bool:
        return environment in self.environments and check == self.check and address in self.resources


@dataclass
class Baseline:
    entries: list[BaselineEntry]
    path: Path

    def for_environment(self, environment: str) -> list[BaselineEntry]:
        return [e for e in self.entries if environment in e.environments]

    def entry_for(self, environment: str, check: str, address: str) -> BaselineEntry | None:
        return next((e for e in self.entries if e.covers(environment, check, address)), None)

    def for_requirement(self, requirement: str, environment: str) -> list[BaselineEntry]:
        return [e for e in self.for_environment(environment) if requirement in e.pci]


def load_baseline(path: Path, environments: Iterable[str]) -> Baseline:
    """Read and check the baseline; the first bad entry raises one line naming it."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComplianceError(f"checkov baseline {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ComplianceError(f"checkov baseline {path}: invalid TOML: {exc}") from None
    known = set(environments)
    entries = [_entry(i, item, known, path) for i, item in enumerate(raw.get("finding", []), start=1)]
    unknown_tables = set(raw) - {"finding"}
    if unknown_tables:
        raise ComplianceError(f"checkov baseline {path}: unknown table(s) {', '.join(sorted(unknown_tables))}")
    return Baseline(entries, path)


def load_plugin_baseline(
    path: Path, owner: str, enabled_in: Iterable[str], environments: Iterable[str], *, plugin: str
) -> list[BaselineEntry]:
    """A plugin distribution's reviewed findings (the file its declaration names), owned by
    ``owner`` (the plugin's label): each entry holds in the environments it lists, else in every
    one of ``enabled_in`` (where the plugin is enabled); more than
    :data:`MAX_ENTRIES_PER_DISTRIBUTION` entries are refused."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComplianceError(
            f"{owner}: its checkov baseline {path} is not there (PluginDeclaration.checkov_baseline)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ComplianceError(f"{owner}: checkov baseline {path}: invalid TOML: {exc}") from None
    if unknown_tables := set(raw) - {"finding"}:
        raise ComplianceError(f"{owner}: checkov baseline {path}: unknown table(s) {', '.join(sorted(unknown_tables))}")
    items = raw.get("finding", [])
    if len(items) > MAX_ENTRIES_PER_DISTRIBUTION:
        raise ComplianceError(
            f"{owner}: {len(items)} baseline entries in {Path(path).name}, at most {MAX_ENTRIES_PER_DISTRIBUTION} per "
            "distribution: fix rather than baseline"
        )
    enabled = tuple(sorted(enabled_in))
    entries = []
    for index, item in enumerate(items, start=1):
        entry = _entry(index, {"environments": list(enabled), **item}, set(environments), Path(path), owner=owner)
        # listed environments where the plugin is not enabled build nothing of it: nothing to excuse there
        entries.append(
            dataclasses.replace(entry, environments=tuple(e for e in entry.environments if e in enabled), plugin=plugin)
        )
    return entries


def foreign_resources(entries: Iterable[BaselineEntry], configs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per address a plugin's entry names that the plugin did not build (in the
    environment → Terraform JSON ``configs``): a distribution excuses only its own resources."""
    problems = []
    for entry in entries:
        if not entry.plugin:
            continue
        for environment in entry.environments:
            resources = (configs.get(environment) or {}).get("resource") or {}
            for address in entry.resources:
                resource_type, _, name = address.partition(".")
                body = (resources.get(resource_type) or {}).get(name)
                if body is None:
                    continue  # not built there: the stale check reports it
                path = str(body.get("//", {}).get("metadata", {}).get("path", ""))
                builder = path.split("/")[1] if path.count("/") >= 2 else ""
                if builder != entry.plugin:
                    problems.append(
                        f"{environment}: {entry.label} names {address}, built by "
                        f"{'plugin ' + repr(builder) if builder else 'the core'}: a distribution excuses only its own resources"
                    )
    return sorted(set(problems))


def _entry(
    index: int, item: Mapping[str, Any], environments: set[str], path: Path, *, owner: str = ""
) -> BaselineEntry:
    check = item.get("check")
    label = f"{owner + ' ' if owner else ''}checkov baseline {path.name} entry {index} ({check or 'no check'})"
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise ComplianceError(f"{label}: unknown field(s) {', '.join(unknown)}")
    if not isinstance(check, str) or not CHECK_ID.match(check):
        raise ComplianceError(f"{label}: 'check' must be a checkov check id like CKV_AWS_338")
    reason, requirement = item.get("reason", ""), item.get("requirement", "")
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        raise ComplianceError(f"{label} has no reason (write why the finding stands, at least {MIN_REASON} characters)")
    if not isinstance(requirement, str) or not requirement.strip():
        raise ComplianceError(f"{label} names no requirement or specification line behind it")
    resources = _strings(item.get("resources"), label, "resources")
    envs = _strings(item.get("environments"), label, "environments")
    if unknown_envs := sorted(set(envs) - environments):
        raise ComplianceError(f"{label}: unknown environment(s) {', '.join(unknown_envs)}")
    pci = _strings(item.get("pci", []), label, "pci", allow_empty=True)
    if unknown_pci := sorted(set(pci) - set(REQUIREMENTS)):
        raise ComplianceError(f"{label}: unknown {STANDARD} requirement(s) {', '.join(unknown_pci)}")
    return BaselineEntry(index, check, resources, envs, reason.strip(), requirement.strip(), pci, owner=owner)


def _strings(value: Any, label: str, name: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if isinstance(value, tuple):
        value = list(value)
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) and v for v in value)
        or (not value and not allow_empty)
    ):
        raise ComplianceError(f"{label}: '{name}' must be a non-empty list of strings")
    if len(set(value)) != len(value):
        raise ComplianceError(f"{label}: '{name}' lists a value twice")
    return tuple(value)


@dataclass
class Verdict:
    """The gate's result for a set of environments: every problem is one line."""

    new_findings: list[str] = field(default_factory=list)
    stale_entries: list[str] = field(default_factory=list)
    over_limit: list[str] = field(default_factory=list)
    # a plugin's entry naming a resource another plugin (or the core) built
    foreign: list[str] = field(default_factory=list)
    baselined: dict[str, int] = field(default_factory=dict)  # environment → findings covered
    # environment → entry label → the addresses it excused there: whose decision excused what
    excused: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        return [*self.new_findings, *self.stale_entries, *self.over_limit, *self.foreign]

    @property
    def passed(self) -> bool:
        return not self.problems


def judge(baseline: Baseline, failed: Mapping[str, list[CheckResult]]) -> Verdict:
    """Compare each environment's failed checks (environment → results) with the baseline."""
    verdict = Verdict()
    # An entry may name resources that only some of its environments build (local deploys its
    # code unsigned, so it has no artifacts bucket): an address is stale when it fails in none of
    # the entry's environments, an environment when none of the entry's addresses fails there.
    matched: dict[int, dict[str, set[str]]] = {}  # entry index → address → environments it fails in
    ruled: dict[tuple[str, str], str] = {}  # (check, address) → the rule that excused it somewhere
    for environment in sorted(failed):
        findings = {(r.check_id, r.address) for r in failed[environment]}
        covered = 0
        excused = verdict.excused.setdefault(environment, {})
        by_rule: set[tuple[str, str]] = set()
        for check, address in sorted(findings):
            entry = baseline.entry_for(environment, check, address)
            if entry is None:
                verdict.new_findings.append(
                    f"{environment}: new checkov finding {check} on {address}: fix it, or add a reviewed "
                    f"baseline entry with its reason"
                )
            else:
                covered += 1
                excused.setdefault(entry.label, []).append(address)
                if entry.rule:
                    by_rule.add((check, address))
                    ruled[(check, address)] = entry.label
        verdict.baselined[environment] = covered
        # What a rule excuses by construction needs no reviewed entry: one naming it is stale.
        findings -= by_rule
        entries = [e for e in baseline.for_environment(environment) if not e.rule]
        for entry in entries:
            hits = matched.setdefault(id(entry), {address: set() for address in entry.resources})
            for address in entry.resources:
                if (entry.check, address) in findings:
                    hits[address].add(environment)
        platform_entries = [e for e in entries if e.reviewed_in_platform_file]
        if len(platform_entries) > MAX_ENTRIES_PER_ENVIRONMENT:
            verdict.over_limit.append(
                f"{environment}: {len(platform_entries)} baseline entries, at most {MAX_ENTRIES_PER_ENVIRONMENT}: "
                "fix rather than baseline"
            )
    for entry in baseline.entries:
        if entry.rule:
            continue
        hits = matched.get(id(entry))
        if hits is None:
            continue  # none of its environments was judged
        evaluated = sorted(e for e in entry.environments if e in failed)
        never = [address for address, where in hits.items() if not where]
        for address in never:
            rule = ruled.get((entry.check, address))
            why = f"is excused by {rule} by construction" if rule else f"no longer fails {entry.check}"
            verdict.stale_entries.append(f"{', '.join(evaluated)}: stale {entry.label}: {address} {why}; remove it")
        if not never:
            for environment in evaluated:
                if not any(environment in where for where in hits.values()):
                    verdict.stale_entries.append(
                        f"{environment}: stale {entry.label}: none of its resources fails {entry.check} here; "
                        f"remove {environment} from its environments"
                    )
    return verdict


def updated(path: Path, failed: Mapping[str, list[CheckResult]]) -> str:
    """The baseline file re-generated against current findings (environment → failed checks):
    reviewed entries keep their text, stale addresses and environments go, new findings are
    added per check with an empty reason for a reviewer to fill in."""
    raw = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    findings = {(env, r.check_id, r.address) for env, results in failed.items() for r in results}
    kept: list[dict[str, Any]] = []
    for item in raw.get("finding", []):
        check = item.get("check")

        def still_fails(env: str, address: str, check: Any = check) -> bool:
            return env not in failed or (env, check, address) in findings  # unscanned: left alone

        envs = [e for e in item.get("environments", []) if any(still_fails(e, a) for a in item.get("resources", []))]
        resources = [a for a in item.get("resources", []) if any(still_fails(e, a) for e in envs)]
        if envs and resources:
            kept.append({**item, "environments": envs, "resources": resources})
    covered = {(e, item["check"], a) for item in kept for e in item["environments"] for a in item["resources"]}
    new: dict[str, dict[str, set[str]]] = {}
    for env, check, address in sorted(findings - covered):
        entry = new.setdefault(check, {"resources": set(), "environments": set()})
        entry["resources"].add(address)
        entry["environments"].add(env)
    for check, entry in sorted(new.items()):
        kept.append(
            {
                "check": check,
                "resources": sorted(entry["resources"]),
                "environments": sorted(entry["environments"]),
                "reason": "",
                "requirement": "",
            }
        )
    return HEADER + "".join(_render(item) for item in kept)


def _render(item: Mapping[str, Any]) -> str:
    lines = ["", "[[finding]]"]
    for key in ("check", "resources", "environments", "reason", "requirement", "pci"):
        if key in item:
            lines.append(f"{key} = {_toml_value(item[key], one_per_line=key == 'resources')}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any, *, one_per_line: bool) -> str:
    if isinstance(value, list):
        if len(value) <= 1 or not one_per_line:
            return json.dumps(value, ensure_ascii=False)
        return "[\n" + "".join(f"  {json.dumps(v, ensure_ascii=False)},\n" for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
