"""payments-platform core: the stable public API for plugin authors.

    from payments_platform.core import hookimpl, keys, PluginDeclaration, PluginSettings

Everything here is lightweight to import; cdktf and the provider bindings load only when
a stack is built (through :mod:`payments_platform.core.cdktf_adapter`).
"""

from . import keys
from .config import EnvironmentConfig, PlatformConfig, RegionPlan, load_config
from .declaration import LogRetentionDays, NoSettings, PluginDeclaration, PluginSettings, unique_strings
from .errors import (
    ConfigError,
    ContextError,
    PlatformError,
    PluginHookError,
    PluginLoadError,
    PolicyViolation,
    RegistrationError,
    RequirementError,
)
from .hookspec import ENTRY_POINT_GROUP, hookimpl
from .keys import ContextKey
from .monitoring import Metric

__all__ = [
    "ENTRY_POINT_GROUP",
    "ConfigError",
    "ContextError",
    "ContextKey",
    "EnvironmentConfig",
    "LogRetentionDays",
    "Metric",
    "NoSettings",
    "PlatformConfig",
    "PlatformError",
    "PluginDeclaration",
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
