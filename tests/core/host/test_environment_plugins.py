"""Which plugins an environment enables (enable/disable relative to [defaults], or a whole list),
and settings tables: each names an installed plugin and validates even where it is disabled."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from payments_platform.core import PluginDeclaration, PluginSettings, hookimpl
from payments_platform.core.errors import ConfigError, PluginLoadError
from payments_platform.core.host.builder import build_stack
from payments_platform.core.host.config import load_config, parse_config
from payments_platform.core.host.plugin_manager import PlatformPluginManager, PluginSource, in_process_source
from payments_platform.core.host.synth import new_app
from payments_platform.core.testing import make_environment

from cli_runner import run_cli

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = ["network", "storage", "audit"]


def plugins_of(**env) -> tuple[str, ...]:
    raw = {"defaults": {"plugins": list(DEFAULTS)}, "environments": {"dev": env}}
    return parse_config(raw, Path("environments.toml")).environment("dev").plugins


def config_error(**env) -> str:
    with pytest.raises(ConfigError) as excinfo:
        plugins_of(**env)
    assert "\n" not in str(excinfo.value)
    return str(excinfo.value)


def test_no_plugin_keys_means_the_defaults():
    assert plugins_of() == ("audit", "network", "storage")


def test_enable_adds_to_the_defaults():
    assert plugins_of(enable=["waf"]) == ("audit", "network", "storage", "waf")


def test_disable_drops_from_the_defaults():
    assert plugins_of(disable=["audit"]) == ("network", "storage")


def test_enable_and_disable_combine():
    assert plugins_of(enable=["waf"], disable=["audit"]) == ("network", "storage", "waf")


def test_plugins_still_replaces_the_defaults():
    assert plugins_of(plugins=["network"]) == ("network",)


@pytest.mark.parametrize(
    "env, described",
    [
        ({}, "[defaults] plugins"),
        ({"enable": ["waf"], "disable": ["audit"]}, "[defaults] plugins + waf - audit"),
        ({"plugins": ["network"]}, "its own plugins list"),
    ],
    ids=["defaults", "changed", "replaced"],
)
def test_environment_says_how_its_plugin_list_came_about(env, described):
    raw = {"defaults": {"plugins": list(DEFAULTS)}, "environments": {"dev": env}}
    assert parse_config(raw, Path("environments.toml")).environment("dev").plugins_from == described


def test_plugins_with_enable_is_refused():
    assert config_error(plugins=["network"], enable=["waf"]).endswith(
        "[environments.dev]: 'plugins' replaces the default list and 'enable' changes it; use one or the other"
    )


def test_plugins_with_disable_is_refused():
    assert "'plugins' replaces the default list and 'disable' changes it" in config_error(
        plugins=["network"], disable=["audit"]
    )


def test_one_plugin_in_enable_and_disable_is_refused():
    assert config_error(enable=["waf"], disable=["waf"]).endswith("'waf' is in both 'enable' and 'disable'")


def test_enabling_a_default_plugin_is_refused():
    assert config_error(enable=["audit"]).endswith("'enable' lists 'audit', which [defaults] plugins already enables")


def test_disabling_a_plugin_the_defaults_lack_suggests_the_close_one():
    assert config_error(disable=["audti"]).endswith(
        "'disable' lists 'audti', which [defaults] plugins does not enable (did you mean 'audit'?)"
    )


def test_enable_listing_a_plugin_twice_is_refused():
    assert config_error(enable=["waf", "waf"]).endswith("'enable' lists 'waf' twice")


def test_enable_must_be_a_list_of_names():
    assert config_error(enable="waf").endswith("'enable' must be a list of plugin names")


def test_enable_in_defaults_is_an_unknown_key():
    raw = {"defaults": {"plugins": ["network"], "enable": ["waf"]}, "environments": {"dev": {}}}
    with pytest.raises(ConfigError, match=r"\[defaults\]: unknown key\(s\): enable"):
        parse_config(raw, Path("environments.toml"))


def test_checked_in_local_runs_the_defaults_audit_archive_included():
    config = load_config(REPO / "environments.toml")
    assert set(config.environment("local").plugins) == set(config.environment("dev").plugins)
    assert "audit" in config.environment("local").plugins


# -- plugin names and settings tables against what is installed ---------------------------


class Limits(PluginSettings):
    memory_mb: int = 512


class Fraud:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    @hookimpl
    def payments_declare(self):
        self.calls.append("declare")
        return PluginDeclaration(name="fraud", description="with settings", settings=Limits)

    @hookimpl
    def payments_configure(self, settings, environment):
        self.calls.append("configure")

    @hookimpl
    def payments_resources(self, ctx):
        self.calls.append("resources")


class Network:
    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name="network", description="stands in for the network plugin")


def sources(**plugins) -> dict[str, PluginSource]:
    return {name: in_process_source(name, plugin) for name, plugin in plugins.items()}


def manager_error(enabled, installed, configured=None) -> str:
    with pytest.raises(ConfigError) as excinfo:
        PlatformPluginManager(enabled, installed, environment="dev", configured=configured)
    assert "\n" not in str(excinfo.value)
    return str(excinfo.value)


def test_misspelt_enabled_plugin_gets_did_you_mean():
    assert manager_error(["netwrk"], sources(network=Network())) == (
        "environment 'dev' enables plugin 'netwrk', which is not installed (did you mean 'network'?) (installed: network)"
    )


def test_enabled_known_distribution_that_is_missing_says_what_to_install():
    assert manager_error(["waf"], sources(network=Network())) == (
        "environment 'dev' enables plugin 'waf', which is not installed: pip install payments-waf"
    )


def test_defaults_settings_for_an_uninstalled_known_plugin_point_at_installation():
    message = manager_error(["network"], sources(network=Network()), {"waf": "[defaults.settings.waf]"})
    assert (
        message
        == "environment 'dev': [defaults.settings.waf] is for plugin 'waf', which is not installed: pip install payments-waf"
    )


def test_misspelt_settings_table_gets_did_you_mean():
    configured = {"netwrk": "[environments.dev.settings.netwrk]"}
    assert manager_error(["network"], sources(network=Network()), configured) == (
        "environment 'dev': [environments.dev.settings.netwrk] is for plugin 'netwrk', which is not installed "
        "(did you mean 'network'?) (installed: network)"
    )


def test_settings_table_names_its_origin_in_the_message():
    raw = {
        "defaults": {"plugins": ["network"], "settings": {"waf": {"mode": "count"}}},
        "environments": {"dev": {"settings": {"fraud": {"memory_mb": 1}}}},
    }
    env = parse_config(raw, Path("environments.toml")).environment("dev")
    assert (env.settings_table("waf"), env.settings_table("fraud")) == (
        "[defaults.settings.waf]",
        "[environments.dev.settings.fraud]",
    )


def build(tmp_path, enabled, installed, settings):
    env = make_environment(enabled, settings=settings)
    return build_stack(new_app(tmp_path), env, sources=installed)


def test_typo_in_a_disabled_plugins_settings_fails_now(tmp_path):
    with pytest.raises(ConfigError, match=r"environment 'test', plugin 'fraud', setting 'memroy_mb': Extra inputs"):
        build(tmp_path, ["network"], sources(network=Network(), fraud=Fraud([])), {"fraud": {"memroy_mb": 1}})


def test_disabled_plugin_with_settings_is_declared_but_never_built(tmp_path):
    calls: list[str] = []
    installed = sources(network=Network(), fraud=Fraud(calls))
    built = build(tmp_path, ["network"], installed, {"fraud": {"memory_mb": 1024}})
    assert built.order == ["network"] and calls == ["declare"]
    assert built.manager.hooks_of("fraud") == []


def _import_fails():
    raise ImportError("No module named 'payments_fraud'")


def test_disabled_plugin_without_settings_is_never_imported():
    broken = PluginSource("fraud", "payments_fraud.plugin", "payments-fraud", "1.0", _import_fails)
    host = PlatformPluginManager(["network"], {**sources(network=Network()), "fraud": broken}, environment="dev")
    assert host.enabled == ["network"] and host.declared_only == {}


def test_disabled_plugin_with_settings_that_fails_to_import_is_an_error():
    broken = PluginSource("fraud", "payments_fraud.plugin", "payments-fraud", "1.0", _import_fails)
    with pytest.raises(PluginLoadError, match=r"plugin 'fraud' \(distribution payments-fraud 1.0\) failed to import"):
        PlatformPluginManager(
            ["network"],
            {**sources(network=Network()), "fraud": broken},
            environment="dev",
            configured={"fraud": "[defaults.settings.fraud]"},
        )


# -- the CLI ------------------------------------------------------------------------------


def cli(tmp_path: Path, config: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "environments.toml").write_text(config)
    return run_cli(*args, cwd=tmp_path)


def test_plugins_command_shows_enable_and_disable_applied(tmp_path):
    config = '[defaults]\nplugins = ["network", "storage"]\n[environments.dev]\nenable = ["messaging"]\ndisable = ["storage"]\n'
    result = cli(tmp_path, config, "plugins", "--env", "dev", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    enabled = sorted(row["name"] for row in listing["plugins"] if row["enabled"])
    assert (enabled, listing["plugins_from"]) == (["messaging", "network"], "[defaults] plugins + messaging - storage")


def test_misspelt_enabled_plugin_is_one_line_with_did_you_mean(tmp_path):
    config = '[defaults]\nplugins = ["network"]\n[environments.dev]\nenable = ["storgae"]\n'
    result = cli(tmp_path, config, "plugins")
    assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
    assert "enables plugin 'storgae', which is not installed (did you mean 'storage'?)" in result.stderr


def test_typo_in_disabled_plugins_settings_fails_synth_before_anything_is_written(tmp_path):
    config = (
        '[defaults]\nplugins = ["network"]\n[defaults.settings.network]\nzone_ids = ["use1-az1", "use1-az2"]\n'
        "[environments.dev]\n[environments.dev.settings.audit]\nretention_dayz = 400\n"
    )
    result = cli(tmp_path, config, "synth", "--synth-dir", "out")
    assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
    assert "plugin 'audit', setting 'retention_dayz': Extra inputs are not permitted" in result.stderr
    assert not (tmp_path / "out").exists()
