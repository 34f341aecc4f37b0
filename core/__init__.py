"""payments-platform core: the plugin contract. What this package exports is what a plugin may use.

    from payments_platform.core import hookimpl, keys, PluginContext, PluginDeclaration, aws

The contract's modules sit at this package's top (hook spec, declaration, context, keys, grants,
roles, monitoring, naming, policy, errors, evidence, API version, the secure-default builders,
the cdktf adapter); everything
else lives in a subpackage named for its concern, which no plugin imports:

    host/       discovers plugins, runs their phases, synthesizes
    ops/        Terraform operations: state, plans, drift, the checkov gate, the API contract check
    authoring/  tools for plugin authors: scaffold, reference, settings report
    cli/        the ``payments-platform`` command, one module per command group
    local/      the platform on this machine: emulator/, apigw/, lambdafn/ and the orchestration
    testing/    helpers for plugin tests (public, like the contract)

Everything here is lightweight to import; cdktf and the provider bindings (``aws``, ``Fn``,
``TerraformAsset``...) load on first use, through :mod:`payments_platform.core.cdktf_adapter`.
"""

from typing import Any

from payments_platform.core import keys
from payments_platform.core.api_version import PLUGIN_API_VERSION
from payments_platform.core.builders import (
    BucketLifecycle,
    HardenedBucket,
    PlatformFunction,
    deny_unencrypted_uploads,
    hardened_bucket,
    platform_function,
)
from payments_platform.core.context import PluginContext
from payments_platform.core.declaration import (
    LogRetentionDays,
    NoSettings,
    PluginDeclaration,
    PluginSettings,
    unique_strings,
)
from payments_platform.core.errors import (
    ConfigError,
    ContextError,
    PlatformError,
    PluginDeprecationWarning,
    PluginHookError,
    PluginLoadError,
    PolicyViolation,
    RegistrationError,
    RequirementError,
)
from payments_platform.core.hookspec import ENTRY_POINT_GROUP, hookimpl
from payments_platform.core.host.config import EnvironmentConfig, PlatformConfig, RegionPlan, load_config
from payments_platform.core.keys import ContextKey
from payments_platform.core.monitoring import (
    STATISTICS,
    Metric,
    MetricAlarm,
    MetricWidget,
    MonitoredApi,
    MonitoredFunction,
    MonitoredLogGroup,
    MonitoredQueue,
    MonitoredTable,
)
from payments_platform.core.roles import Role, grant_function_basics, grant_key_via_service

# Loaded on first use: importing them starts the jsii runtime.
_CDKTF_NAMES = frozenset(
    {"aws", "Fn", "TerraformAsset", "AssetType", "TerraformResourceLifecycle", "TerraformStack", "forget_in_state"}
)


def __getattr__(name: str) -> Any:
    if name in _CDKTF_NAMES:
        from payments_platform.core import cdktf_adapter

        return getattr(cdktf_adapter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AssetType",
    "BucketLifecycle",
    "HardenedBucket",
    "PlatformFunction",
    "deny_unencrypted_uploads",
    "hardened_bucket",
    "platform_function",
    "ENTRY_POINT_GROUP",
    "Fn",
    "MetricAlarm",
    "MetricWidget",
    "MonitoredApi",
    "MonitoredFunction",
    "MonitoredLogGroup",
    "MonitoredQueue",
    "MonitoredTable",
    "PluginContext",
    "Role",
    "STATISTICS",
    "TerraformAsset",
    "TerraformResourceLifecycle",
    "TerraformStack",
    "forget_in_state",
    "aws",
    "grant_function_basics",
    "grant_key_via_service",
    "ConfigError",
    "ContextError",
    "ContextKey",
    "EnvironmentConfig",
    "LogRetentionDays",
    "Metric",
    "NoSettings",
    "PLUGIN_API_VERSION",
    "PlatformConfig",
    "PlatformError",
    "PluginDeclaration",
    "PluginDeprecationWarning",
    "PluginHookError",
    "PluginLoadError",
    "PluginSettings",
    "PolicyViolation",
    "RegionPlan",
    "RegistrationError",
    "RequirementError",
    "hookimpl",
    "keys",
    "load_config",
    "unique_strings",
]
