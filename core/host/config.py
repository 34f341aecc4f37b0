"""Environments: which plugins are enabled where, with what settings.

The checked-in ``environments.toml`` is the source. ``[defaults]`` applies to every
environment; ``[environments.<name>]`` overrides it (per-plugin settings tables are merged
key by key). An environment either changes the default plugin list (``enable = [...]``,
``disable = [...]``) or replaces it (``plugins = [...]``), never both. Everything is
validated here, before a plugin is imported.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from payments_platform.core.environment import (
    EnvironmentConfig,
    RegionPlan,
    StateBackendConfig,
)
from payments_platform.core.errors import ConfigError, did_you_mean

DEFAULT_CONFIG_FILE = "environments.toml"
CONFIG_ENV_VAR = "PAYMENTS_PLATFORM_CONFIG"
SUFFIX_ENV_VAR = "ENVIRONMENT_SUFFIX"

# The suffix lands in every resource name: IAM roles and Lambda functions allow 64
# characters, SQS names 80 with ".fifo", S3-style rules want lowercase. Lowercase
# letters, digits and inner hyphens, at most 20 characters, is safe in all of them.
SUFFIX_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,18}[a-z0-9])?$")
ENV_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d$")

_ENV_KEYS = {
    "suffix",
    "region",
    "plugins",
    "enable",
    "disable",
    "settings",
    "tags",
    "description",
    "aws_endpoint",
    "state",
}
# A local AWS emulator (moto server, LocalStack): only loopback, never a remote host.
ENDPOINT_PATTERN = re.compile(r"^http://(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):\d{2,5}$")


@dataclass(frozen=True)
class PlatformConfig:
    """environments.toml, loaded and validated (``load_config()``)."""

    # the environments.toml it was read from
    path: Path
    # the environment a command builds without --env
    default_environment: str
    # every environment by name
    environments: Mapping[str, EnvironmentConfig]

    def environment(self, name: str | None) -> EnvironmentConfig:
        """The environment called ``name`` (the default when None); ConfigError naming the known ones otherwise."""
        name = name or self.default_environment
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments))
            raise ConfigError(f"unknown environment '{name}' (known: {known})") from None

    def select(self, names: list[str] | None) -> list[EnvironmentConfig]:
        """The environments to build; ENVIRONMENT_SUFFIX may override the suffix of exactly one."""
        selected = [self.environment(n) for n in (names or [self.default_environment])]
        override = os.environ.get(SUFFIX_ENV_VAR)
        if override:
            if len(selected) != 1:
                raise ConfigError(f"{SUFFIX_ENV_VAR} overrides one environment's suffix; {len(selected)} were selected")
            _check_suffix(override, f"{SUFFIX_ENV_VAR}")
            selected = [replace(selected[0], suffix=override)]
        return selected


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path:
    candidate = explicit or os.environ.get(CONFIG_ENV_VAR)
    if candidate:
        path = Path(candidate)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    here = Path.cwd()
    for directory in (here, *here.parents):
        path = directory / DEFAULT_CONFIG_FILE
        if path.is_file():
            return path
    raise ConfigError(f"no {DEFAULT_CONFIG_FILE} in {here} or its parents (pass --config or set {CONFIG_ENV_VAR})")


def load_config(path: str | os.PathLike[str] | None = None) -> PlatformConfig:
    config_path = find_config_file(path)
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read: {exc.strerror}") from None
    return parse_config(raw, config_path)


def parse_config(raw: Mapping[str, Any], path: Path) -> PlatformConfig:
    where = str(path)
    unknown = set(raw) - {"platform", "defaults", "environments"}
    if unknown:
        raise ConfigError(f"{where}: unknown top-level table(s): {', '.join(sorted(unknown))}")
    platform = _table(raw.get("platform", {}), f"{where}: [platform]")
    defaults = _table(raw.get("defaults", {}), f"{where}: [defaults]")
    # State is per environment on purpose: `local` must never inherit a shared bucket.
    _check_keys(defaults, _ENV_KEYS - {"suffix", "state", "enable", "disable"}, f"{where}: [defaults]")
    environments_raw = _table(raw.get("environments", {}), f"{where}: [environments]")
    if not environments_raw:
        raise ConfigError(f"{where}: no [environments.<name>] defined")

    environments: dict[str, EnvironmentConfig] = {}
    for name, body in sorted(environments_raw.items()):
        label = f"{where}: [environments.{name}]"
        if not ENV_NAME_PATTERN.match(name):
            raise ConfigError(f"{label}: environment names are lowercase letters, digits and hyphens")
        body = _table(body, label)
        _check_keys(body, _ENV_KEYS, label)
        environments[name] = _environment(name, defaults, body, label)

    default_env = platform.get("default_environment", "dev" if "dev" in environments else sorted(environments)[0])
    if not isinstance(default_env, str) or default_env not in environments:
        raise ConfigError(f"{where}: [platform] default_environment {default_env!r} is not a defined environment")
    suffixes: dict[str, str] = {}
    for env in environments.values():
        if env.suffix in suffixes:
            raise ConfigError(
                f"{where}: environments '{suffixes[env.suffix]}' and '{env.name}' share suffix '{env.suffix}'"
            )
        suffixes[env.suffix] = env.name
    _check_shared_state_buckets(environments.values(), where)
    return PlatformConfig(path, default_env, environments)


def _check_shared_state_buckets(environments: Any, where: str) -> None:
    """Environments may share a state bucket (one key each); they must then agree on how it is made."""
    first: dict[str, EnvironmentConfig] = {}
    for env in environments:
        if env.state is None:
            continue
        other = first.setdefault(env.state.bucket, env)
        assert other.state is not None
        if (other.state.region, other.state.kms_key_id) != (env.state.region, env.state.kms_key_id):
            raise ConfigError(
                f"{where}: environments '{other.name}' and '{env.name}' share state bucket {env.state.bucket} "
                "but not its region and kms_key_id"
            )


def _environment(name: str, defaults: Mapping[str, Any], body: Mapping[str, Any], label: str) -> EnvironmentConfig:
    suffix = body.get("suffix", name)
    _check_suffix(suffix, f"{label} suffix")
    region = body.get("region", defaults.get("region"))
    if region is not None and (not isinstance(region, str) or not REGION_PATTERN.match(region)):
        raise ConfigError(f"{label}: region {region!r} is not an AWS region name")
    plugins, plugins_from = _enabled_plugins(defaults, body, label)
    settings = _merge_settings(
        _table(defaults.get("settings", {}), f"{label} (defaults) settings"),
        _table(body.get("settings", {}), f"{label} settings"),
        label,
    )
    tags = {
        **_str_map(defaults.get("tags", {}), f"{label} (defaults) tags"),
        **_str_map(body.get("tags", {}), f"{label} tags"),
    }
    description = body.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{label}: description must be a string")
    endpoint = body.get("aws_endpoint", defaults.get("aws_endpoint"))
    if endpoint is not None and (not isinstance(endpoint, str) or not ENDPOINT_PATTERN.match(endpoint)):
        raise ConfigError(
            f"{label}: aws_endpoint {endpoint!r} must be a loopback URL like http://127.0.0.1:4566 (a local emulator)"
        )
    state = _state_backend(body["state"], f"{label} state") if "state" in body else None
    return EnvironmentConfig(
        name=name,
        suffix=suffix,
        regions=RegionPlan(region),
        plugins=tuple(sorted(plugins)),
        settings=settings,
        tags=tags,
        description=description,
        aws_endpoint=endpoint,
        state=state,
        own_settings=tuple(sorted(_table(body.get("settings", {}), f"{label} settings"))),
        plugins_from=plugins_from,
    )


def _enabled_plugins(defaults: Mapping[str, Any], body: Mapping[str, Any], label: str) -> tuple[list[str], str]:
    """``plugins`` replaces [defaults] plugins; ``enable``/``disable`` change it, so an environment
    that adds one plugin does not repeat the others (and does not miss one added later)."""
    changes = [key for key in ("enable", "disable") if key in body]
    if "plugins" in body:
        if changes:
            raise ConfigError(
                f"{label}: 'plugins' replaces the default list and '{changes[0]}' changes it; use one or the other"
            )
        return _plugin_list(body["plugins"], f"{label}: 'plugins'"), "its own plugins list"
    if "plugins" not in defaults:
        raise ConfigError(f"{label}: no 'plugins' list (set it here or in [defaults])")
    base = _plugin_list(defaults["plugins"], f"{label} (defaults): 'plugins'")
    enable = _plugin_list(body.get("enable", []), f"{label}: 'enable'")
    disable = _plugin_list(body.get("disable", []), f"{label}: 'disable'")
    for name in enable:
        if name in disable:
            raise ConfigError(f"{label}: '{name}' is in both 'enable' and 'disable'")
        if name in base:
            raise ConfigError(f"{label}: 'enable' lists '{name}', which [defaults] plugins already enables")
    for name in disable:
        if name not in base:
            raise ConfigError(
                f"{label}: 'disable' lists '{name}', which [defaults] plugins does not enable{did_you_mean(name, base)}"
            )
    changes = "".join([*(f" + {name}" for name in enable), *(f" - {name}" for name in disable)])
    return [*(name for name in base if name not in disable), *enable], f"[defaults] plugins{changes}"


def _plugin_list(value: Any, label: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise ConfigError(f"{label} must be a list of plugin names")
    if len(set(value)) != len(value):
        twice = next(p for p in value if value.count(p) > 1)
        raise ConfigError(f"{label} lists '{twice}' twice")
    return value


_STATE_KEYS = {"bucket", "key_prefix", "region", "kms_key_id"}
# S3's naming rules, minus dots: a dotted name breaks TLS on virtual-hosted-style requests.
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
KEY_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")
KMS_KEY_PATTERN = re.compile(
    r"^(?:alias/[A-Za-z0-9/_-]{1,250}"
    r"|arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:(?:key/(?:mrk-)?[0-9a-f-]{32,36}|alias/[A-Za-z0-9/_-]{1,250}))$"
)


def _state_backend(value: Any, label: str) -> StateBackendConfig:
    table = _table(value, label)
    _check_keys(table, _STATE_KEYS, label)
    missing = sorted(_STATE_KEYS - set(table))
    if missing:
        raise ConfigError(f"{label}: missing key(s): {', '.join(missing)}")
    for key in sorted(_STATE_KEYS):
        if not isinstance(table[key], str):
            raise ConfigError(f"{label}: {key} must be a string")
    bucket, prefix, region, kms_key = (table[k] for k in ("bucket", "key_prefix", "region", "kms_key_id"))
    if not BUCKET_PATTERN.match(bucket):
        raise ConfigError(
            f"{label}: bucket {bucket!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, hyphens)"
        )
    if not KEY_PREFIX_PATTERN.match(prefix):
        raise ConfigError(
            f"{label}: key_prefix {prefix!r} must be path segments of letters, digits, '.', '_', '-' (no leading or trailing '/')"
        )
    if not REGION_PATTERN.match(region):
        raise ConfigError(f"{label}: region {region!r} is not an AWS region name")
    match = KMS_KEY_PATTERN.match(kms_key)
    if not match:
        raise ConfigError(f"{label}: kms_key_id {kms_key!r} must be 'alias/<name>' or a KMS key or alias ARN")
    if match.group("region") and match.group("region") != region:
        raise ConfigError(
            f"{label}: kms_key_id is in {match.group('region')} but the state bucket is in {region} (S3 needs a key in its own region)"
        )
    return StateBackendConfig(bucket=bucket, key_prefix=prefix, region=region, kms_key_id=kms_key)


def _merge_settings(defaults: Mapping[str, Any], overrides: Mapping[str, Any], label: str) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for plugin in sorted(set(defaults) | set(overrides)):
        base = _table(defaults.get(plugin, {}), f"{label} settings.{plugin}")
        over = _table(overrides.get(plugin, {}), f"{label} settings.{plugin}")
        merged[plugin] = {**base, **over}
    return merged


def _check_suffix(suffix: Any, label: str) -> None:
    if not isinstance(suffix, str) or not SUFFIX_PATTERN.match(suffix):
        raise ConfigError(
            f"{label} {suffix!r} is invalid: use 1-20 lowercase letters, digits or inner hyphens "
            "(it must be valid in every AWS resource name it lands in)"
        )


def _table(value: Any, label: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{label} must be a table")
    return value


def _check_keys(table: Mapping[str, Any], allowed: set[str], label: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(
            f"{label}: unknown key(s): {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})"
        )


def _str_map(value: Any, label: str) -> dict[str, str]:
    table = _table(value, label)
    for key, item in table.items():
        if not isinstance(item, str):
            raise ConfigError(f"{label}.{key} must be a string")
    return dict(table)
