"""The plugin host: discovery, ordering by requirements, phases, and failing closed."""

from __future__ import annotations

import re

import pytest

from payments_platform.core import PluginDeclaration, PluginSettings, hookimpl, keys
from payments_platform.core.errors import (
    ConfigError,
    ContextError,
    PluginHookError,
    PluginLoadError,
    RequirementError,
)
from payments_platform.core.host.builder import build_stack, plugin_sources
from payments_platform.core.host.plugin_manager import PluginSource, in_process_source
from payments_platform.core.host.synth import new_app
from payments_platform.core.testing import make_environment, stub_values

TABLE = stub_values()[keys.TRANSACTIONS_TABLE]


class Recorder:
    """A plugin that logs each phase call into a shared list."""

    def __init__(self, name, log, provides=(), requires=()):
        self.name, self.log, self.provides, self.requires = name, log, provides, requires

    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name=self.name, description="recorder", provides=self.provides, requires=self.requires)

    @hookimpl
    def payments_foundation(self, ctx):
        self.log.append(("foundation", self.name))

    @hookimpl
    def payments_resources(self, ctx):
        self.log.append(("resources", self.name))
        for key in self.requires:
            assert ctx[key] is not None
        for key in self.provides:
            ctx[key] = TABLE

    @hookimpl
    def payments_wiring(self, ctx):
        self.log.append(("wiring", self.name))


def build(plugins: dict, enabled=None, tmp_path=None, settings=None, sources=None):
    all_sources = dict(sources or {})
    all_sources.update({name: in_process_source(name, p) for name, p in plugins.items()})
    env = make_environment(enabled if enabled is not None else plugins, settings=settings)
    return build_stack(new_app(tmp_path), env, sources=all_sources)


def test_requirement_orders_calls_regardless_of_names(tmp_path):
    log = []
    plugins = {
        "aaa": Recorder("aaa", log, requires=(keys.TRANSACTIONS_TABLE,)),
        "zzz": Recorder("zzz", log, provides=(keys.TRANSACTIONS_TABLE,)),
    }
    built = build(plugins, tmp_path=tmp_path)
    assert built.order == ["zzz", "aaa"]
    assert [entry for entry in log if entry[0] == "resources"] == [("resources", "zzz"), ("resources", "aaa")]


def test_every_phase_completes_for_all_plugins_before_the_next(tmp_path):
    log = []
    build({"a": Recorder("a", log), "b": Recorder("b", log)}, tmp_path=tmp_path)
    assert [phase for phase, _ in log] == ["foundation"] * 2 + ["resources"] * 2 + ["wiring"] * 2


def test_requirement_of_a_disabled_installed_plugin_is_explained(tmp_path):
    plugins = {"ledger": Recorder("ledger", [], requires=(keys.TRANSACTIONS_TABLE,))}
    with pytest.raises(RequirementError) as excinfo:
        build(plugins, tmp_path=tmp_path, sources=plugin_sources())
    assert str(excinfo.value) == (
        "plugin 'ledger' requires 'storage.transactions_table', provided by plugin 'storage', "
        "which is disabled in environment 'test'"
    )


def test_requirement_nobody_provides_is_an_error(tmp_path):
    plugins = {"ledger": Recorder("ledger", [], requires=(keys.TRANSACTIONS_TABLE,))}
    with pytest.raises(RequirementError, match="which no plugin enabled in environment 'test' provides"):
        build(plugins, tmp_path=tmp_path)


def test_two_providers_of_one_key_are_an_error(tmp_path):
    plugins = {n: Recorder(n, [], provides=(keys.TRANSACTIONS_TABLE,)) for n in ("a", "b")}
    with pytest.raises(RequirementError, match="both provide 'storage.transactions_table'"):
        build(plugins, tmp_path=tmp_path)


class Misspelt:
    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name="typo", description="misspelt hook")

    @hookimpl
    def payments_resourcez(self, ctx):  # noqa: D401 - deliberately wrong
        pass


def test_misspelt_hook_fails_naming_the_plugin(tmp_path):
    with pytest.raises(PluginLoadError, match=r"plugin 'typo'.*payments_resourcez"):
        build({"typo": Misspelt()}, tmp_path=tmp_path)


def _broken_import():
    raise ImportError("No module named 'payments_fraud'")


BROKEN = PluginSource("fraud", "payments_fraud.plugin", "payments-fraud", "1.2.0", _broken_import)


def test_enabled_plugin_that_fails_to_import_names_its_distribution(tmp_path):
    with pytest.raises(PluginLoadError, match=r"plugin 'fraud' \(distribution payments-fraud 1.2.0\) failed to import"):
        build({}, enabled=["fraud"], tmp_path=tmp_path, sources={"fraud": BROKEN})


def test_disabled_plugin_is_never_imported(tmp_path):
    built = build({"a": Recorder("a", [])}, enabled=["a"], tmp_path=tmp_path, sources={"fraud": BROKEN})
    assert built.order == ["a"]


def test_enabled_plugin_that_is_not_installed_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="enables plugin 'ghost', which is not installed"):
        build({}, enabled=["ghost"], tmp_path=tmp_path)


class WrongName(Recorder):
    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name="other", description="x")


def test_declared_name_must_match_entry_point_name(tmp_path):
    with pytest.raises(PluginLoadError, match="declares the name 'other'"):
        build({"mine": WrongName("mine", [])}, tmp_path=tmp_path)


class Sneaky(Recorder):
    @hookimpl
    def payments_resources(self, ctx):
        ctx[keys.NETWORK]


def test_reading_an_undeclared_key_is_refused(tmp_path):
    with pytest.raises(ContextError, match="plugin 'sneaky' read 'network.network' without declaring it"):
        build({"sneaky": Sneaky("sneaky", [])}, tmp_path=tmp_path)


def test_host_error_inside_a_hook_records_the_plugins_line(tmp_path):
    line = Sneaky.payments_resources.__code__.co_firstlineno + 2  # the decorator line, then def
    with pytest.raises(ContextError) as excinfo:
        build({"sneaky": Sneaky("sneaky", [])}, tmp_path=tmp_path)
    assert re.fullmatch(
        rf"in payments_resources at (\S*/)?tests/core/host/test_plugin_host\.py:{line}", excinfo.value.raised_in
    ), excinfo.value.raised_in


class Promiser(Recorder):
    @hookimpl
    def payments_resources(self, ctx):
        pass


def test_declared_provision_that_is_never_published_is_an_error(tmp_path):
    plugins = {"p": Promiser("p", [], provides=(keys.TRANSACTIONS_TABLE,))}
    with pytest.raises(ContextError, match="plugin 'p' declares it provides 'storage.transactions_table' but did not"):
        build(plugins, tmp_path=tmp_path)


class Buggy(Recorder):
    @hookimpl
    def payments_wiring(self, ctx):
        raise KeyError("oops")


def test_unexpected_exception_in_a_hook_names_plugin_hook_and_line(tmp_path):
    line = Buggy.payments_wiring.__code__.co_firstlineno + 2
    with pytest.raises(PluginHookError) as excinfo:
        build({"buggy": Buggy("buggy", [])}, tmp_path=tmp_path)
    assert re.fullmatch(
        r"plugin 'buggy' \(distribution <in-process> 0\) failed in payments_wiring "
        rf"at (\S*/)?tests/core/host/test_plugin_host\.py:{line}: KeyError: 'oops'",
        str(excinfo.value),
    ), str(excinfo.value)


class Limits(PluginSettings):
    memory_mb: int = 512


class Configurable(Recorder):
    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name=self.name, description="with settings", settings=Limits)

    @hookimpl
    def payments_configure(self, settings, environment):
        if settings.memory_mb > 4096:
            raise ValueError("memory_mb above 4096 is not budgeted")


def test_setting_of_wrong_type_names_env_plugin_and_setting(tmp_path):
    with pytest.raises(ConfigError, match=r"environment 'test', plugin 'fn', setting 'memory_mb': .*integer"):
        build({"fn": Configurable("fn", [])}, tmp_path=tmp_path, settings={"fn": {"memory_mb": "big"}})


def test_unknown_setting_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="setting 'memroy_mb': Extra inputs"):
        build({"fn": Configurable("fn", [])}, tmp_path=tmp_path, settings={"fn": {"memroy_mb": 1}})


def test_configure_hook_rejection_becomes_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="plugin 'fn': memory_mb above 4096"):
        build({"fn": Configurable("fn", [])}, tmp_path=tmp_path, settings={"fn": {"memory_mb": 8192}})


def test_settings_for_an_unknown_plugin_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match=r"\[defaults.settings.ghost\] is for plugin 'ghost', which is not installed"):
        build({"a": Recorder("a", [])}, tmp_path=tmp_path, settings={"ghost": {}})


class Carrier(Recorder):
    """Hands a value from resources to wiring through ctx.stash."""

    @hookimpl
    def payments_resources(self, ctx):
        ctx.stash["built"] = f"{self.name}-thing"

    @hookimpl
    def payments_wiring(self, ctx):
        self.log.append(("wiring", ctx.stash.pop("built")))


def test_stash_carries_a_plugins_state_between_phases_and_is_private(tmp_path):
    log = []
    build({"a": Carrier("a", log), "b": Carrier("b", log)}, tmp_path=tmp_path)
    assert [entry for entry in log if entry[0] == "wiring"] == [("wiring", "a-thing"), ("wiring", "b-thing")]
