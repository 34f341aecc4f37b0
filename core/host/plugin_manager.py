"""Discovery and the typed facade over pluggy's PluginManager.

A fresh manager is built per stack: nothing is loaded at import time and no state is
shared between builds. Enabled plugins are imported and registered for the build hooks.
A disabled plugin is never imported, unless the environment has a settings table for it:
then it is imported for its declaration only (``payments_declare``; never registered for a
build hook), so a typo in its settings fails today rather than on the day someone enables
it. An enabled plugin that is missing, fails to import, misspells a hook, marks a hook with
an option the host cannot honour or breaks the contract is a hard error naming the plugin
and its distribution: silently skipping it would make Terraform plan to destroy its resources.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from payments_platform.core import hookspec
from payments_platform.core.api_version import check_requires_api
from payments_platform.core.declaration import PluginDeclaration, PluginSettings
from payments_platform.core.deployment_checks import (
    CardDataDetector,
    ChaosScenario,
    ExampleRequest,
    LocalDeployment,
    SmokeCheck,
)
from payments_platform.core.errors import ConfigError, PlatformError, PluginHookError, PluginLoadError, did_you_mean
from payments_platform.core.host.hookimpl_checks import failure_site, registration_problems
from payments_platform.core.host.provider_endpoints import provider_endpoint_services
from payments_platform.core.scaffold_kinds import ScaffoldKind

# Plugins distributed apart from the platform: a missing one is one `pip install` away.
KNOWN_DISTRIBUTIONS: dict[str, str] = {"waf": "payments-waf"}


@dataclass(frozen=True)
class PluginSource:
    """Where a plugin comes from, known without importing it."""

    name: str
    target: str
    distribution: str
    version: str
    load: Callable[[], Any]

    @property
    def label(self) -> str:
        return f"plugin '{self.name}' (distribution {self.distribution} {self.version})"


def discover_plugins() -> dict[str, PluginSource]:
    """Every plugin registered under the entry-point group, by name (nothing imported)."""
    found: dict[str, PluginSource] = {}
    for ep in entry_points(group=hookspec.ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        version = ep.dist.version if ep.dist is not None else "?"
        if ep.name in found and found[ep.name].distribution != dist:
            raise PluginLoadError(
                f"plugin name '{ep.name}' is registered by two distributions: {found[ep.name].distribution} and {dist}"
            )
        found[ep.name] = PluginSource(ep.name, ep.value, dist, version, ep.load)
    return found


def in_process_source(name: str, plugin: Any) -> PluginSource:
    """A plugin object registered directly (tests, notebooks) rather than via an entry point."""
    module = getattr(plugin, "__name__", type(plugin).__name__)
    return PluginSource(name, module, "<in-process>", "0", lambda: plugin)


class PlatformPluginManager:
    """One typed method per hook; core code never calls ``pm.hook.*`` with loose kwargs.

    ``configured`` names the plugins the environment has a settings table for, each with the
    table it comes from (``[defaults.settings.x]``): every one must be installed, and those not
    enabled are declared (not registered) so their settings can be validated too.
    """

    def __init__(
        self,
        enabled: Sequence[str],
        sources: Mapping[str, PluginSource],
        *,
        environment: str,
        configured: Mapping[str, str] | None = None,
    ) -> None:
        self._pm = _pluggy_manager()
        self._sources = dict(sources)
        self._declarations: dict[str, PluginDeclaration] = {}
        self._declared_only: dict[str, PluginDeclaration] = {}
        for name in sorted(enabled):
            if name not in sources:
                raise ConfigError(_not_installed(f"environment '{environment}' enables plugin '{name}'", name, sources))
        for name, table in sorted((configured or {}).items()):
            if name not in sources:
                raise ConfigError(
                    _not_installed(f"environment '{environment}': {table} is for plugin '{name}'", name, sources)
                )
        for name in sorted(set(sources) - set(enabled)):
            self._pm.set_blocked(name)  # tox-style: disabled plugins are never registered
        for name in sorted(enabled):
            self._register(self._pm, sources[name])
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"{self._label_of(exc.plugin)}: {exc} (misspelt hook name?)") from None
        for name in sorted(enabled):
            self._declarations[name] = self._declare(self._pm, name)
        for name in sorted(set(configured or {}) - set(enabled)):
            self._declared_only[name] = self._declare_only(name)

    # -- loading -----------------------------------------------------------------
    def _register(self, pm: pluggy.PluginManager, source: PluginSource) -> None:
        try:
            plugin = source.load()
        except Exception as exc:  # import errors of any kind: fail closed, naming the plugin
            raise PluginLoadError(
                f"{source.label} failed to import from '{source.target}': {type(exc).__name__}: {exc}"
            ) from exc
        problems = registration_problems(plugin, source.label, pm.parse_hookimpl_opts, hook_names())
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise PluginLoadError(problems[0] + more)
        try:
            pm.register(plugin, name=source.name)
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"{source.label} breaks the hook contract: {exc}") from None
        except ValueError as exc:
            raise PluginLoadError(f"{source.label} could not be registered: {exc}") from None

    def _declare_only(self, name: str) -> PluginDeclaration:
        """A disabled plugin's declaration, from a manager of its own that runs no build hook."""
        pm = _pluggy_manager()
        self._register(pm, self._sources[name])
        return self._declare(pm, name)

    def _label_of(self, plugin: Any) -> str:
        name = self._pm.get_name(plugin)
        source = self._sources.get(name or "")
        return source.label if source else f"plugin '{name}'"

    def _declare(self, pm: pluggy.PluginManager, name: str) -> PluginDeclaration:
        source = self._sources[name]
        if _impl(pm, name, "payments_declare") is None:
            raise PluginLoadError(f"{source.label} does not implement payments_declare()")
        declaration = self._call_in(pm, name, "payments_declare", {})
        if not isinstance(declaration, PluginDeclaration):
            raise PluginLoadError(
                f"{source.label}: payments_declare() returned {type(declaration).__name__}, not PluginDeclaration"
            )
        if declaration.name != name:
            raise PluginLoadError(
                f"{source.label} declares the name '{declaration.name}'; it must match its entry-point name '{name}'"
            )
        if not (isinstance(declaration.settings, type) and issubclass(declaration.settings, PluginSettings)):
            raise PluginLoadError(f"{source.label}: declaration.settings must be a PluginSettings subclass")
        _check_emulated_services(source, declaration.emulated_services)
        check_requires_api(source.label, declaration.requires_api)
        return declaration

    # -- calling -----------------------------------------------------------------
    def _call(self, name: str, hook: str, kwargs: Mapping[str, Any]) -> Any:
        return self._call_in(self._pm, name, hook, kwargs)

    def _call_in(self, pm: pluggy.PluginManager, name: str, hook: str, kwargs: Mapping[str, Any]) -> Any:
        """Call one plugin's implementation of ``hook`` (the host decides the order, not pluggy)."""
        impl = _impl(pm, name, hook)
        if impl is None:
            return None
        try:
            return impl.function(*[kwargs[arg] for arg in impl.argnames])
        except PlatformError as exc:
            # The host's own check failed on the plugin's behalf (an undeclared key, a wildcard
            # grant): say where in the plugin, unless the message already does.
            if not isinstance(exc, PluginHookError) and not exc.raised_in:
                exc.raised_in = f"in {hook} at {failure_site(exc.__traceback__, impl)}"
            raise
        except Exception as exc:
            # One line naming where the plugin's own code failed; the CLI's --debug shows the rest.
            first_line = (str(exc).strip().splitlines() or [""])[0]
            detail = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
            raise PluginHookError(
                f"{self._sources[name].label} failed in {hook} at {failure_site(exc.__traceback__, impl)}: {detail}"
            ) from exc

    def source(self, name: str) -> PluginSource:
        return self._sources[name]

    @property
    def enabled(self) -> list[str]:
        return sorted(self._declarations)

    def declaration(self, name: str) -> PluginDeclaration:
        return self._declarations[name]

    @property
    def declared_only(self) -> dict[str, PluginDeclaration]:
        """Disabled plugins that have settings in this environment, by name (never built)."""
        return dict(self._declared_only)

    def hooks_of(self, name: str) -> list[str]:
        plugin = self._pm.get_plugin(name)
        return sorted(
            caller.name for caller in self._pm.get_hookcallers(plugin) or [] if caller.name.startswith("payments_")
        )

    def configure(self, name: str, settings: PluginSettings, environment: Any) -> None:
        try:
            self._call(name, "payments_configure", {"settings": settings, "environment": environment})
        except PluginHookError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValueError):
                raise ConfigError(f"environment '{environment.name}', plugin '{name}': {cause}") from None
            raise

    def foundation(self, name: str, ctx: Any) -> None:
        self._call(name, "payments_foundation", {"ctx": ctx})

    def resources(self, name: str, ctx: Any) -> None:
        self._call(name, "payments_resources", {"ctx": ctx})

    def wiring(self, name: str, ctx: Any) -> None:
        self._call(name, "payments_wiring", {"ctx": ctx})

    def finalize(self, name: str, ctx: Any) -> None:
        self._call(name, "payments_finalize", {"ctx": ctx})

    # -- local: what the core's tools run against a deployed API ---------------------------
    def example_requests(self, deployment: LocalDeployment) -> list[ExampleRequest]:
        registered = self._collect("payments_local_examples", ExampleRequest, {"deployment": deployment})
        return [example for _, example in registered]

    def smoke_checks(self, deployment: LocalDeployment) -> list[tuple[str, SmokeCheck]]:
        """(plugin, check) in run order: plugins by name, each plugin's checks as registered."""
        return self._collect("payments_smoke_checks", SmokeCheck, {"deployment": deployment}, unique="name")

    def chaos_scenarios(self, deployment: LocalDeployment) -> dict[str, ChaosScenario]:
        registered = self._collect("payments_chaos_scenarios", ChaosScenario, {"deployment": deployment}, unique="name")
        return {scenario.name: scenario for _, scenario in registered}

    def card_data_detectors(self) -> list[tuple[str, CardDataDetector]]:
        return self._collect("payments_card_data", CardDataDetector, {}, unique="name")

    # -- authoring: outside any environment ---------------------------------------------
    def scaffold_kinds(self) -> list[tuple[str, ScaffoldKind]]:
        """(plugin, kind) of every kind the plugins contribute to ``new-plugin``, plugins by name."""
        return self._collect("payments_scaffold_kinds", ScaffoldKind, {}, unique="name")

    def _collect(self, hook: str, kind: type[Any], kwargs: Mapping[str, Any], *, unique: str = "") -> list[Any]:
        """llm-style registration: each enabled plugin (by name) calls ``register(item)``; the
        host checks the type, refuses a name registered twice and remembers who registered what."""
        registered: list[tuple[str, Any]] = []
        owners: dict[str, str] = {}
        for name in self.enabled:
            label = self._sources[name].label

            def register(item: Any, *, _plugin: str = name, _label: str = label) -> None:
                if not isinstance(item, kind):
                    raise PluginHookError(
                        f"{_label} registered {type(item).__name__} in {hook}; expected {kind.__name__}"
                    )
                key = getattr(item, unique, "") if unique else ""
                if unique and not (isinstance(key, str) and key):
                    raise PluginHookError(f"{_label} registered a {kind.__name__} without a {unique} in {hook}")
                if key in owners:
                    raise PluginHookError(
                        f"{_label} registered the {kind.__name__} {key!r} in {hook}, already registered by "
                        f"{self._sources[owners[key]].label}"
                    )
                if unique:
                    owners[key] = _plugin
                registered.append((_plugin, item))

            self._call(name, hook, {**kwargs, "register": register})
        return registered

    def run_phase(self, phase: str, name: str, ctx: Any) -> None:
        {
            "foundation": self.foundation,
            "resources": self.resources,
            "wiring": self.wiring,
            "finalize": self.finalize,
        }[phase](name, ctx)


def installed_plugins(sources: Mapping[str, PluginSource] | None = None) -> PlatformPluginManager:
    """Every installed plugin loaded as if enabled, for what belongs to no environment (``new-plugin``'s
    kinds): a broken one is as hard an error as in a build."""
    found = dict(sources) if sources is not None else discover_plugins()
    return PlatformPluginManager(sorted(found), found, environment="(installed plugins)")


def _check_emulated_services(source: PluginSource, services: Any) -> None:
    if not isinstance(services, tuple) or not all(isinstance(s, str) for s in services):
        raise PluginLoadError(
            f'{source.label}: declaration.emulated_services must be a tuple of service ids, e.g. ("wafv2",)'
        )
    if not services:
        return
    known = provider_endpoint_services()
    for service in services:
        if service not in known:
            raise PluginLoadError(
                f"{source.label} declares emulated service '{service}', which is not a key of the AWS "
                f"provider's endpoints block{did_you_mean(service, known)}"
            )


def _pluggy_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspec.PROJECT_NAME)
    pm.add_hookspecs(hookspec)
    return pm


def _impl(pm: pluggy.PluginManager, name: str, hook: str) -> pluggy.HookImpl | None:
    for impl in getattr(pm.hook, hook).get_hookimpls():
        if impl.plugin_name == name:
            return impl
    return None


def _not_installed(subject: str, name: str, sources: Mapping[str, Any]) -> str:
    """'<subject>, which is not installed: ...' pointing at the fix: the distribution to
    install when it is a known one, else the closest installed name."""
    if name in KNOWN_DISTRIBUTIONS:
        return f"{subject}, which is not installed: pip install {KNOWN_DISTRIBUTIONS[name]}"
    hint = did_you_mean(name, [*sources, *KNOWN_DISTRIBUTIONS])
    installed = ", ".join(sorted(sources)) or "none"
    return f"{subject}, which is not installed{hint} (installed: {installed})"


def hook_names() -> list[str]:
    """All hooks of the contract, for docs and the docs test."""
    return sorted(name for name, fn in inspect.getmembers(hookspec, inspect.isfunction) if name.startswith("payments_"))


def load_module(target: str) -> Any:
    return importlib.import_module(target)
