"""Synthesize environments to Terraform JSON: build, check policy, then write atomically.

Stacks are synthesized into a scratch directory first; only when every policy rule passes
is the output moved into place, so a failed synth never leaves a half-written config.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payments_platform.core import keys
from payments_platform.core.cdktf_adapter import App
from payments_platform.core.context import platform_tags
from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.errors import PolicyViolation
from payments_platform.core.host import policy
from payments_platform.core.host.builder import BuiltStack, build_stack, plugin_sources

# cdktf feature flags, as `cdktf init` sets them for new projects: logical ids without the
# stack id, so the same plugin yields the same ids in every environment.
# A warning source synthesize() does not own: (environment, synthesized config) -> warnings.
StackCheck = Callable[[EnvironmentConfig, Mapping[str, Any]], list[str]]

APP_CONTEXT = {"excludeStackIdFromLogicalIds": "true", "allowSepCharsInLogicalIds": "true"}


@dataclass
class SynthResult:
    outdir: Path
    stacks: dict[str, Path]
    seconds: float
    built: list[BuiltStack] = field(default_factory=list)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What synth reports without failing, per stack: capacity above what a function serves
    # (PP-CAPACITY), and what the caller's stack checks found (for an emulator environment, what
    # the emulator does not implement).
    warnings: dict[str, list[str]] = field(default_factory=dict)

    def notes(self, stack_name: str) -> list[str]:
        """What the plugins said about this stack's build (``ctx.note``), ``[plugin] text`` each."""
        item = next((b for b in self.built if b.name == stack_name), None)
        return [] if item is None else [f"[{plugin}] {text}" for plugin, text in item.build.notes]


def new_app(outdir: str | Path) -> Any:
    return App(outdir=str(outdir), stack_traces=False, context=dict(APP_CONTEXT))


def policy_input(built: BuiltStack) -> policy.PolicyInput:
    return policy.PolicyInput(
        suffix=built.environment.suffix,
        platform_tags=platform_tags(built.environment),
        taggable_types=frozenset(built.tagger.taggable_types),
        any_resource_sids=frozenset(s.sid for _, s in built.build.roles.wildcard_resource_grants()),
        private_subnet_ids=_private_subnet_ids(built),
    )


def _private_subnet_ids(built: BuiltStack) -> frozenset[str]:
    """The network key's private subnets, resolved to what the synthesized JSON holds."""
    published = built.build.values.get(keys.NETWORK.name)
    if published is None:
        return frozenset()
    from cdktf import DefaultTokenResolver, StringConcat, Tokenization

    resolver = DefaultTokenResolver(StringConcat())
    network = published[0]
    # The egress subnets its provider placed functions that declared egress in are private too.
    subnets = (*network.private_subnet_ids, *network.needs.egress_subnet_ids)
    return frozenset(str(Tokenization.resolve(subnet, scope=built.stack, resolver=resolver)) for subnet in subnets)


def synthesize(
    environments: Sequence[EnvironmentConfig],
    outdir: str | Path,
    *,
    extra_plugins: Mapping[str, Any] | None = None,
    stack_checks: Sequence[StackCheck] = (),
) -> SynthResult:
    """Synthesize ``environments`` into ``outdir``; a policy violation fails it whole. ``stack_checks``
    add warnings per stack from the layers above the host (e.g. the local emulator's coverage)."""
    started = time.perf_counter()
    outdir = Path(outdir).resolve()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".synth-", dir=outdir.parent))
    try:
        app = new_app(scratch)
        sources = plugin_sources(extra_plugins)
        built = [build_stack(app, env, sources=sources) for env in environments]
        app.synth()
        configs: dict[str, dict[str, Any]] = {}
        violations: list[str] = []
        warnings: dict[str, list[str]] = {}
        for item in built:
            config_file = scratch / "stacks" / item.name / "cdk.tf.json"
            configs[item.name] = json.loads(config_file.read_text())
            found = policy.check(configs[item.name], policy_input(item), item.build.suppressions)
            violations.extend(f"{item.name}: {v}" for v in found)
            warnings[item.name] = policy.warnings(configs[item.name], item.build.suppressions)
            for stack_check in stack_checks:
                warnings[item.name] += stack_check(item.environment, configs[item.name])
        if violations:
            raise PolicyViolation(violations)
        _replace_dir(scratch, outdir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    stacks = {item.name: outdir / "stacks" / item.name for item in built}
    return SynthResult(outdir, stacks, time.perf_counter() - started, built, configs, warnings)


def _replace_dir(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``, replacing it as close to atomically as a directory allows."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{time.time_ns()}")
        target.rename(old)
    source.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
