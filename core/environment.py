"""The environment a plugin builds for: ``ctx.environment`` and what ``payments_configure`` receives.

Part of the plugin contract; the host (core/host/config.py) reads environments.toml into these records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_DEPLOY_REGION = "us-east-1"
# The seed asks API Gateway and CloudWatch configuration to fall back to eu-central-1
# when no region resolves for them.
FALLBACK_SERVICE_REGION = "eu-central-1"


@dataclass(frozen=True)
class RegionPlan:
    """Where the stack deploys, and which region API Gateway / CloudWatch config names."""

    # the region environments.toml names (None: the provider's default)
    configured: str | None

    @property
    def deploy(self) -> str:
        """The region resources are created in."""
        return self.configured or DEFAULT_DEPLOY_REGION

    @property
    def service(self) -> str:
        """Region for API Gateway and CloudWatch dashboard/metric configuration."""
        return self.configured or FALLBACK_SERVICE_REGION


@dataclass(frozen=True)
class StateBackendConfig:
    """Remote state in S3 (``[environments.<env>.state]``): encrypted with a KMS key, locked with a
    lockfile beside the state object (Terraform >= 1.10, no DynamoDB table)."""

    bucket: str
    key_prefix: str
    region: str
    kms_key_id: str

    def key(self, stack_name: str, suffix: str) -> str:
        """One state object per environment and per suffix: an ENVIRONMENT_SUFFIX build never
        shares a key with the environment it is derived from."""
        return f"{self.key_prefix}/{stack_name}/{suffix}.tfstate"


@dataclass(frozen=True)
class EnvironmentConfig:
    """One environment of environments.toml, resolved: what ``ctx.environment`` is and what ``payments_configure``
    receives."""

    # the environment's name in environments.toml (dev, staging, prod, local)
    name: str
    # appended to every resource name: payment-transactions-<suffix>
    suffix: str
    # where it deploys
    regions: RegionPlan
    # the enabled plugins, sorted
    plugins: tuple[str, ...]
    # plugin name → its raw settings table (defaults merged); ctx.settings is the validated model
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # extra tags for every taggable resource ([environments.<env>] tags)
    tags: Mapping[str, str] = field(default_factory=dict)
    # what the environment is for, from environments.toml
    description: str = ""
    # When set, the AWS provider talks to a local emulator at this URL instead of AWS.
    aws_endpoint: str | None = None
    # None: local state beside the synth output (see state_file).
    state: StateBackendConfig | None = None
    # Plugins with a settings table of this environment's own; the others' come from [defaults].
    own_settings: tuple[str, ...] = ()
    # How `plugins` came about, for `payments-platform plugins`: "[defaults] plugins + waf - audit".
    plugins_from: str = ""

    @property
    def state_key(self) -> str | None:
        """The S3 object key of this environment's state, or None with local state."""
        return self.state.key(self.stack_name, self.suffix) if self.state else None

    @property
    def stack_name(self) -> str:
        """The Terraform stack's name: ``payments-<name>``."""
        return f"payments-{self.name}"

    @property
    def state_file(self) -> str:
        """The local state file, relative to the stack's synth directory (<out>/stacks/<stack>/):
        beside <out>, so a re-synth (which replaces <out> whole) never touches it."""
        return f"../../../terraform.{self.stack_name}.tfstate"

    def plugin_settings(self, plugin: str) -> Mapping[str, Any]:
        """``plugin``'s raw settings table (empty when none)."""
        return self.settings.get(plugin, {})

    def settings_table(self, plugin: str) -> str:
        """The TOML table a plugin's settings come from, for messages."""
        if plugin in self.own_settings:
            return f"[environments.{self.name}.settings.{plugin}]"
        return f"[defaults.settings.{plugin}]"
