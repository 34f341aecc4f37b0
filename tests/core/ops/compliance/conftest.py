"""One synth per environment (cached for the session) and one checkov run over all of them.

checkov comes from its own tool environment (`make test` creates .venv-checkov first). Without
it the gate's tests error with the install hint rather than skip: a gate that can skip
silently is no gate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from payments_platform.core.host.config import PlatformConfig, load_config
from payments_platform.core.ops.compliance.gate import Scan, scan_configs
from payments_platform.core.testing import SynthesizedStack, synth

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="session")
def platform_config() -> PlatformConfig:
    return load_config(REPO / "environments.toml")


@pytest.fixture(scope="session")
def environment_synths(platform_config) -> dict[str, SynthesizedStack]:
    """Environment name → its synthesized stack, exactly as `payments-platform synth` builds it."""
    return {
        env.name: synth(env.plugins, environment=env)
        for env in platform_config.select(sorted(platform_config.environments))
    }


@pytest.fixture(scope="session")
def checkov_scan(platform_config, environment_synths) -> Scan:
    environments = platform_config.select(sorted(platform_config.environments))
    stacks = {env.stack_name: environment_synths[env.name] for env in environments}
    return scan_configs(
        environments,
        {name: stack.config for name, stack in stacks.items()},
        {name: stack.built for name, stack in stacks.items()},
        REPO,
    )
