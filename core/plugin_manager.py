"""Discovery and the typed facade over pluggy's PluginManager.

A fresh manager is built per stack: nothing is loaded at import time and no state is
shared between builds. Only enabled plugins are imported (disabled ones are blocked
before import). An enabled plugin that is missing, fails to import, misspells a hook or
breaks the contract is a hard error naming the plugin and its distribution: silently
skipping it would make Terraform plan to destroy its resources.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping, Sequence

import pluggy

from . import hookspec
from .declaration import PluginDeclaration, PluginSettings
from .errors import ConfigError, PlatformError, PluginHookError, PluginLoadError
from .provider_endpoints import provider_endpoint_services


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
                f"plugin name '{ep.name}' is registered by two distributions: "
                f"{found[ep.name].distribution} and {dist}"
            )
        found[ep.name] = PluginSource(ep.name, ep.value, dist, version, ep.load)
    return found


def in_process_source(name: str, plugin: Any) -> PluginSource:
    """A plugin object registered directly (tests, notebooks) rather than via an entry point."""
    module = getattr(plugin, "__name__", type(plugin).__name__)
    return PluginSource(name, module, "<in-process>", "0", lambda: plugin)


class PlatformPluginManager:
    """One typed method per hook; core code never calls ``pm.hook.*`` with loose kwargs."""

    def __init__(self, enabled: Sequence[str], sources: Mapping[str, PluginSource], *, environment: str) -> None:
        self._pm = pluggy.PluginManager(hookspec.PROJECT_NAME)
        self._pm.add_hookspecs(hookspec)
        self._sources = dict(sources)
        self._declarations: dict[str, PluginDeclaration] = {}
        for name in sorted(set(sources) - set(enabled)):
            self._pm.set_blocked(name)  # tox-style: disabled plugins are never imported
        for name in sorted(enabled):
            source = sources.get(name)
            if source is None:
                installed = ", ".join(sorted(sources)) or "none"
                raise ConfigError(
                    f"environment '{environment}' enables plugin '{name}', which is not installed (installed: {installed})"
                )
            self._register(source)
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"{self._label_of(exc.plugin)}: {exc} (misspelt hook name?)") from None
        for name in sorted(enabled):
            self._declarations[name] = self._declare(name)

    # -- loading -----------------------------------------------------------------
    def _register(self, source: PluginSource) -> None:
        try:
            plugin = source.load()
        except Exception as exc:  # import errors of any kind: fail closed, naming the plugin
            raise PluginLoadError(
                f"{source.label} failed to import from '{source.target}': {type(exc).__name__}: {exc}"
            ) from exc
        try:
            self._pm.register(plugin, name=source.name)
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"{source.label} breaks the hook contract: {exc}") from None
        except ValueError as exc:
            raise PluginLoadError(f"{source.label} could not be registered: {exc}") from None

    def _label_of(self, plugin: Any) -> str:
        name = self._pm.get_name(plugin)
        source = self._sources.get(name or "")
        return source.label if source else f"plugin '{name}'"

    def _declare(self, name: str) -> PluginDeclaration:
        source = self._sources[name]
        if self._impl(name, "payments_declare") is None:
            raise PluginLoadError(f"{source.label} does not implement payments_declare()")
        declaration = self._call(name, "payments_declare", {})
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
        return declaration

    # -- calling -----------------------------------------------------------------
    def _impl(self, name: str, hook: str) -> pluggy.HookImpl | None:
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            if impl.plugin_name == name:
                return impl
        return None

    def _call(self, name: str, hook: str, kwargs: Mapping[str, Any]) -> Any:
        """Call one plugin's implementation of ``hook`` (the host decides the order, not pluggy)."""
        impl = self._impl(name, hook)
        if impl is None:
            return None
        try:
            return impl.function(*[kwargs[arg] for arg in impl.argnames])
        except PlatformError:
            raise
        except Exception as exc:
            raise PluginHookError(
                f"{self._sources[name].label} failed in {hook}: {type(exc).__name__}: {exc}"
            ) from exc

    def source(self, name: str) -> PluginSource:
        return self._sources[name]

    @property
    def enabled(self) -> list[str]:
        return sorted(self._declarations)

    def declaration(self, name: str) -> PluginDeclaration:
        return self._declarations[name]

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

    def run_phase(self, phase: str, name: str, ctx: Any) -> None:
        {
            "foundation": self.foundation,
            "resources": self.resources,
            "wiring": self.wiring,
            "finalize": self.finalize,
        }[phase](name, ctx)


def _check_emulated_services(source: PluginSource, services: Any) -> None:
    if not isinstance(services, tuple) or not all(isinstance(s, str) for s in services):
        raise PluginLoadError(
            f"{source.label}: declaration.emulated_services must be a tuple of service ids, e.g. (\"wafv2\",)"
        )
    if not services:
        return
    known = provider_endpoint_services()
    for service in services:
        if service not in known:
            close = difflib.get_close_matches(service, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise PluginLoadError(
                f"{source.label} declares emulated service '{service}', which is not a key of the AWS "
                f"provider's endpoints block{hint}"
            )


def hook_names() -> list[str]:
    """All hooks of the contract, for docs and the docs test."""
    return sorted(
        name for name, fn in inspect.getmembers(hookspec, inspect.isfunction) if name.startswith("payments_")
    )


def load_module(target: str) -> Any:
    return importlib.import_module(target)
