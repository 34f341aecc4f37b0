"""payments-platform core: the plugin contract. What this package exports is what a plugin may use.

    from payments_platform.core import hookimpl, keys, PluginContext, PluginDeclaration, aws

The contract's modules sit at this package's top (hook spec, declaration, context, environment,
keys, grants, roles, monitoring, naming, errors, evidence, API version, the secure-default builders,
the cdktf adapter, the scaffold kinds); everything else lives in a subpackage named for its concern,
which no plugin imports. Each imports only what is below it (the layers contract in pyproject.toml, checked by
import-linter in the test suite):

    cli/        the ``payments-platform`` command, one module per command group
    testing/    helpers for plugin tests (public, like the contract)
    local/      the platform on this machine: emulator/, apigw/, lambdafn/ and the orchestration
    ops/        Terraform operations: state, plans, drift, the checkov gate, the API contract check
    authoring/  tools for plugin authors: scaffold, reference, settings report
    host/       discovers plugins, runs their phases, checks the policy rules, synthesizes

Everything here is lightweight to import; cdktf and the provider bindings (``aws``, ``Fn``,
``TerraformAsset``...) load on first use, through :mod:`payments_platform.core.cdktf_adapter`.
"""

import importlib
import warnings
from typing import Any

from payments_platform.core import keys
from payments_platform.core.api_version import PLUGIN_API_VERSION
from payments_platform.core.builders import (
    BucketLifecycle,
    HardenedBucket,
    PlatformFunction,  # noqa: F401 -- the deprecated name of keys.Function, kept for plugins that import it
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
from payments_platform.core.deployment_checks import (
    CardDataDetector,
    ChaosRequest,
    ChaosScenario,
    CheckFailed,
    ExampleRequest,
    HttpResponse,
    LocalDeployment,
    SmokeCheck,
)
from payments_platform.core.environment import EnvironmentConfig
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
from payments_platform.core.fault_rules import FUNCTION_SERVICE, FaultRule
from payments_platform.core.function_packages import BuiltZip, function_package, sign_package, store_zip, tree_entries
from payments_platform.core.hookspec import ENTRY_POINT_GROUP, hookimpl
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
from payments_platform.core.network_needs import Egress
from payments_platform.core.roles import Role, grant_function_basics, grant_key_via_service
from payments_platform.core.scaffold_kinds import ScaffoldKind

# Loaded on first use: importing them starts the jsii runtime.
_CDKTF_NAMES = frozenset(
    {"aws", "Fn", "TerraformAsset", "AssetType", "TerraformResourceLifecycle", "TerraformStack", "forget_in_state"}
)


# Host names this package once exported. A plugin needs none of them (ctx.environment is an
# EnvironmentConfig; its regions a payments_platform.core.environment.RegionPlan); they resolve,
# with a PluginDeprecationWarning, until plugin API 2.0 removes them. Imported by name on that
# path only, so importing the contract never loads the host (tests/core/test_contract_exports.py).
_MOVED_OUT = {
    "load_config": "payments_platform.core.host.config",
    "PlatformConfig": "payments_platform.core.host.config",
    "RegionPlan": "payments_platform.core.environment",
}


def __getattr__(name: str) -> Any:
    if name in _CDKTF_NAMES:
        from payments_platform.core import cdktf_adapter

        return getattr(cdktf_adapter, name)
    if name in _MOVED_OUT:
        module = _MOVED_OUT[name]
        warnings.warn(
            f"payments_platform.core.{name} is not part of the plugin contract: import it from {module} "
            "(the name goes in plugin API 2.0)",
            PluginDeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CardDataDetector",
    "ChaosRequest",
    "ChaosScenario",
    "CheckFailed",
    "ExampleRequest",
    "FUNCTION_SERVICE",
    "FaultRule",
    "HttpResponse",
    "LocalDeployment",
    "SmokeCheck",
    "AssetType",
    "BucketLifecycle",
    "BuiltZip",
    "Egress",
    "function_package",
    "sign_package",
    "store_zip",
    "tree_entries",
    "HardenedBucket",
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
    "PlatformError",
    "PluginDeclaration",
    "PluginDeprecationWarning",
    "PluginHookError",
    "PluginLoadError",
    "PluginSettings",
    "PolicyViolation",
    "RegistrationError",
    "RequirementError",
    "ScaffoldKind",
    "hookimpl",
    "keys",
    "unique_strings",
]
