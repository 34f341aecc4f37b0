"""The stack builder: build context → run phases → (synth elsewhere).

declare → configure → [core foundation] → foundation → resources → wiring → finalize
→ [core: role policies, key policy, outputs, tags]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from payments_platform.core.cdktf_adapter import Aspects, Construct, TerraformStack
from payments_platform.core.context import CORE, BuildContext, PluginContext, platform_tags
from payments_platform.core.declaration import PluginDeclaration, PluginSettings
from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.errors import ConfigError, ContextError, RequirementError
from payments_platform.core.hookspec import BUILD_PHASES
from payments_platform.core.host import foundation
from payments_platform.core.host.plugin_manager import (
    PlatformPluginManager,
    PluginSource,
    discover_plugins,
    in_process_source,
)
from payments_platform.core.host.tagging import PlatformTags
from payments_platform.core.keys import KMS_KEY
from payments_platform.core.naming import Naming
from payments_platform.core.roles import RoleRegistry

CORE_PROVIDES = (KMS_KEY.name,)


@dataclass
class BuiltStack:
    environment: EnvironmentConfig
    stack: Any
    build: BuildContext
    manager: PlatformPluginManager
    order: list[str]
    tagger: PlatformTags

    @property
    def name(self) -> str:
        return self.environment.stack_name


def plugin_sources(extra_plugins: Mapping[str, Any] | None = None) -> dict[str, PluginSource]:
    """Installed plugins plus in-process ones (which win, so a test can replace a plugin)."""
    sources = discover_plugins()
    for name, plugin in (extra_plugins or {}).items():
        sources[name] = in_process_source(name, plugin)
    return sources


def environment_plugins(
    env: EnvironmentConfig, sources: Mapping[str, PluginSource] | None = None
) -> PlatformPluginManager:
    """The plugins ``env`` enables, loaded (and the disabled ones it configures, declared): for a
    build, or for the local tools' hooks against what the environment deployed."""
    return PlatformPluginManager(
        env.plugins,
        sources if sources is not None else plugin_sources(),
        environment=env.name,
        configured={name: env.settings_table(name) for name in env.settings},
    )


def validate_settings(env: EnvironmentConfig, declaration: PluginDeclaration) -> PluginSettings:
    raw = env.plugin_settings(declaration.name)
    try:
        return declaration.settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = _validation_message(first)
        if first["loc"]:
            where = "setting '" + ".".join(str(p) for p in first["loc"]) + "'"
        else:  # a model validator: name the fields its message is about
            where = _fields_named(declaration.settings, message)
        given = f" (got {first['input']!r})" if "input" in first and not isinstance(first["input"], dict) else ""
        more = f"; and {exc.error_count() - 1} more" if exc.error_count() > 1 else ""
        raise ConfigError(
            f"environment '{env.name}', plugin '{declaration.name}', {where}: {message}{given}{more}"
        ) from None


def _validation_message(error: Any) -> str:
    """The validator's own words: pydantic prefixes a raised ValueError's text with 'Value error, '."""
    if error.get("type") == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    return str(error["msg"])


def _fields_named(model: type[PluginSettings], message: str) -> str:
    """``settings 'a' and 'b'`` for the model's fields a cross-field message mentions (as words)."""
    named = [name for name in model.model_fields if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message)]
    if not named:
        return "settings (checked together)"
    if len(named) == 1:
        return f"setting '{named[0]}'"
    return "settings " + ", ".join(f"'{n}'" for n in named[:-1]) + f" and '{named[-1]}'"


def resolve_order(
    env: EnvironmentConfig, declarations: Mapping[str, PluginDeclaration], installed: set[str]
) -> list[str]:
    """Dependency order for phase calls; ties broken by name, so synth is deterministic."""
    providers: dict[str, str] = {key: CORE for key in CORE_PROVIDES}
    for name in sorted(declarations):
        for key in declarations[name].provides:
            if key.name in providers:
                raise RequirementError(
                    f"plugins '{providers[key.name]}' and '{name}' both provide '{key.name}' in environment '{env.name}': "
                    "one plugin provides a key (disable the other)"
                )
            providers[key.name] = name
    edges: dict[str, set[str]] = {name: set() for name in declarations}
    for name in sorted(declarations):
        declaration = declarations[name]
        for key in declaration.requires:
            provider = providers.get(key.name)
            if provider is None:
                owner = key.name.split(".", 1)[0]
                if owner in installed and owner not in declarations:
                    raise RequirementError(
                        f"plugin '{name}' requires '{key.name}', provided by plugin '{owner}', "
                        f"which is disabled in environment '{env.name}'"
                    )
                raise RequirementError(
                    f"plugin '{name}' requires '{key.name}', which no plugin enabled in environment '{env.name}' provides"
                )
            if provider not in (CORE, name):
                edges[name].add(provider)
    for name in sorted(declarations):
        for key in declarations[name].uses:
            provider = providers.get(key.name)
            # A use yields to a requirement the other way (the provider requires what this plugin
            # provides): this plugin then reads the key in a later phase than it is published in.
            if provider not in (None, CORE, name) and not _depends_on(edges, provider, name):
                edges[name].add(provider)
    order: list[str] = []
    remaining = dict(edges)
    while remaining:
        ready = sorted(n for n, deps in remaining.items() if deps <= set(order))
        if not ready:
            cycle = ", ".join(sorted(remaining))
            raise RequirementError(f"plugins {cycle} require each other in a cycle (environment '{env.name}')")
        order.append(ready[0])
        del remaining[ready[0]]
    return order


def _depends_on(edges: Mapping[str, set[str]], plugin: str, other: str) -> bool:
    """Whether ``plugin`` runs after ``other`` through the edges so far."""
    seen, todo = set(), [plugin]
    while todo:
        current = todo.pop()
        if current == other:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(edges.get(current, ()))
    return False


def build_stack(
    app: Any,
    env: EnvironmentConfig,
    *,
    sources: Mapping[str, PluginSource] | None = None,
    extra_plugins: Mapping[str, Any] | None = None,
) -> BuiltStack:
    all_sources = dict(sources) if sources is not None else plugin_sources(extra_plugins)
    manager = environment_plugins(env, all_sources)
    declarations = {name: manager.declaration(name) for name in manager.enabled}

    # configure: every plugin's settings validate before any construct exists; a disabled
    # plugin's too, so a typo there fails now rather than on the day it is enabled
    for declaration in manager.declared_only.values():
        validate_settings(env, declaration)
    settings = {name: validate_settings(env, declarations[name]) for name in sorted(declarations)}
    order = resolve_order(env, declarations, set(all_sources))
    for name in order:
        manager.configure(name, settings[name], env)

    stack = TerraformStack(app, env.stack_name)
    emulated = sorted({service for d in declarations.values() for service in d.emulated_services})
    foundation.create_provider(stack, env, emulated_services=emulated)
    core_scope = Construct(stack, "platform")
    naming = Naming(env.suffix)
    aws_account = foundation.account_facts(core_scope, env)
    build = BuildContext(
        environment=env,
        naming=naming,
        stack=stack,
        aws=aws_account,
        roles=RoleRegistry(foundation.create_role),
    )
    build.providers = {key.name: name for name in order for key in declarations[name].provides}
    kms_key, kms_construct = foundation.create_platform_key(core_scope, build)
    build.publish(KMS_KEY, kms_key, CORE)

    contexts = {
        name: PluginContext(build, declarations[name], settings[name], Construct(stack, name)) for name in order
    }
    for phase in BUILD_PHASES:
        build.phase = phase
        for name in order:
            manager.run_phase(phase, name, contexts[name])
        if phase == "wiring":
            _check_provisions(declarations, build)

    build.phase = "render"
    foundation.render_role_policies(build)
    foundation.render_key_policy(kms_construct, build)
    foundation.render_outputs(build)
    tagger = PlatformTags(platform_tags(env))
    Aspects.of(stack).add(tagger)
    return BuiltStack(env, stack, build, manager, order, tagger)


def _check_provisions(declarations: Mapping[str, PluginDeclaration], build: BuildContext) -> None:
    for name in sorted(declarations):
        for key in declarations[name].provides:
            if key.name not in build.values:
                raise ContextError(
                    f"plugin '{name}' declares it provides '{key.name}' but did not publish it by 'wiring'"
                )
