"""Synth → checkov → baseline, for the CLI (``payments-platform compliance``) and the tests.

payments-platform compliance --gate --all       the CI gate, by hand (make compliance)
payments-platform compliance --gate --all --update-baseline   re-generate the baseline
payments-platform compliance --env prod --format md|json [--out FILE]   the control map
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.errors import ComplianceError, ConfigError
from payments_platform.core.host.config import PlatformConfig
from payments_platform.core.ops.compliance import rules
from payments_platform.core.ops.compliance.baseline import (
    BASELINE_FILE,
    Baseline,
    BaselineEntry,
    Verdict,
    foreign_resources,
    judge,
    load_baseline,
    load_plugin_baseline,
    updated,
)
from payments_platform.core.ops.compliance.checkov import CheckovReport, CheckResult, locate_checkov, run_checkov
from payments_platform.core.ops.compliance.control_map import (
    ControlMap,
    build_control_map,
    render_json,
    render_markdown,
)


class GateFailed(ComplianceError):
    def __init__(self, problems: list[str]) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"checkov gate: {len(problems)} problem(s):\n{lines}")
        self.problems = problems


@dataclass
class Scan:
    """Synthesized stacks (stack name → Terraform JSON and built stack) and checkov's report."""

    environments: list[EnvironmentConfig]
    configs: dict[str, dict[str, Any]]
    built: dict[str, Any]
    report: CheckovReport
    synth_seconds: float
    checkov_seconds: float

    def failed(self) -> dict[str, list[CheckResult]]:
        """Environment name → its failed checks."""
        return {env.name: self.report.failed(env.stack_name) for env in self.environments}


def baseline_path(config: PlatformConfig) -> Path:
    return config.path.parent / BASELINE_FILE


def scan_configs(
    environments: Sequence[EnvironmentConfig],
    configs: dict[str, dict[str, Any]],
    built: dict[str, Any],
    root: Path,
    synth_seconds: float = 0.0,
) -> Scan:
    started = time.perf_counter()
    report = run_checkov(configs, locate_checkov(root))
    return Scan(list(environments), configs, built, report, synth_seconds, time.perf_counter() - started)


def scan(config: PlatformConfig, environments: Sequence[EnvironmentConfig]) -> Scan:
    from payments_platform.core.host.synth import synthesize

    with tempfile.TemporaryDirectory(prefix="payments-compliance-") as tmp:
        result = synthesize(environments, Path(tmp) / "out")
    built = {item.name: item for item in result.built}
    return scan_configs(environments, result.configs, built, config.path.parent, result.seconds)


def full_baseline(config: PlatformConfig, found: Scan) -> Baseline:
    """Every decision the gate judges by, in the order it credits them: the rules that hold by
    construction (rules.py), then each enabled plugin distribution's reviewed entries
    (``PluginDeclaration.checkov_baseline``), then the platform's own file."""
    platform = load_baseline(baseline_path(config), config.environments)
    return Baseline([*rule_entries(found), *plugin_entries(config, found), *platform.entries], platform.path)


def rule_entries(found: Scan) -> list[BaselineEntry]:
    """One entry per rule and environment, naming what the rule excuses in that environment's synth."""
    entries = []
    for env in found.environments:
        for rule, addresses in rules.excused(found.configs[env.stack_name]).items():
            entries.append(
                BaselineEntry(
                    0,
                    rule.check,
                    tuple(sorted(addresses)),
                    (env.name,),
                    rule.reason,
                    rule.requirement,
                    rule.pci,
                    rule=rule.name,
                )
            )
    return entries


def plugin_entries(config: PlatformConfig, found: Scan) -> list[BaselineEntry]:
    """The reviewed findings each enabled plugin's distribution ships, wherever it is enabled."""
    shipped: dict[tuple[str, str], tuple[str, set[str]]] = {}  # (plugin, file) → (label, environments)
    for env in found.environments:
        built = found.built[env.stack_name]
        for name in built.order:
            path = built.manager.declaration(name).checkov_baseline
            if path:
                label, where = shipped.setdefault((name, str(path)), (built.manager.source(name).label, set()))
                where.add(env.name)
    entries = []
    for (plugin, path), (label, where) in sorted(shipped.items()):
        entries += load_plugin_baseline(Path(path), label, where, config.environments, plugin=plugin)
    return entries


def _left_to_the_platform(config: PlatformConfig, found: Scan) -> dict[str, list[CheckResult]]:
    """The failed checks the platform's own file must decide: not those a rule excuses by
    construction, nor those a plugin distribution's entries decide."""
    decided = [e for e in full_baseline(config, found).entries if e.rule or e.owner]
    return {
        environment: [r for r in results if not any(e.covers(environment, r.check_id, r.address) for e in decided)]
        for environment, results in found.failed().items()
    }


def verdict_of(config: PlatformConfig, found: Scan) -> Verdict:
    baseline = full_baseline(config, found)
    verdict = judge(baseline, found.failed())
    configs = {env.name: found.configs[env.stack_name] for env in found.environments}
    verdict.foreign = foreign_resources(baseline.entries, configs)
    return verdict


def control_map(config: PlatformConfig, environment: EnvironmentConfig, found: Scan) -> ControlMap:
    baseline = full_baseline(config, found)
    stack = environment.stack_name
    return build_control_map(
        environment.name, stack, found.configs[stack], found.built[stack].build.controls, found.report, baseline
    )


def run_command(args: Any, config: PlatformConfig) -> int:
    """``payments-platform compliance``: see this module's docstring."""
    names = sorted(config.environments) if args.all else args.env
    environments = config.select(names)
    if args.update_baseline and not args.gate:
        raise ConfigError("--update-baseline goes with --gate")
    if not args.gate and len(environments) != 1:
        raise ConfigError("the control map is per environment: name exactly one with --env")
    found = scan(config, environments)
    if args.gate:
        return _gate(config, found, update=args.update_baseline)
    result = control_map(config, environments[0], found)
    text = render_json(result) if args.format == "json" else render_markdown(result)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        summary = result.summary()
        print(f"wrote {args.out}: {len(result.controls)} requirements, {summary}")
    else:
        print(text, end="")
    return 0


def _gate(config: PlatformConfig, found: Scan, *, update: bool) -> int:
    path = baseline_path(config)
    if update:
        path.write_text(updated(path, _left_to_the_platform(config, found)), encoding="utf-8")
        print(f"updated {path}: review every entry without a reason before committing")
    verdict = verdict_of(config, found)
    for env in found.environments:
        failed = found.report.failed(env.stack_name)
        passed = sum(1 for r in found.report.results if r.stack == env.stack_name and r.passed)
        print(
            f"{env.name}: checkov {found.report.version}: {passed} passed, {len(failed)} failed, "
            f"{verdict.baselined.get(env.name, 0)} of them excused"
        )
        for label, addresses in sorted(verdict.excused.get(env.name, {}).items()):
            print(f"  {env.name}: {label} excused {len(addresses)}: {', '.join(addresses)}")
    for stack, check, address in found.report.not_evaluated:
        print(f"{stack}: checkov could not evaluate {check} on {address} (the check crashed; see checkov's log)")
    print(f"synth {found.synth_seconds:.1f} s, checkov {found.checkov_seconds:.1f} s")
    if not verdict.passed:
        raise GateFailed(verdict.problems)
    return 0
