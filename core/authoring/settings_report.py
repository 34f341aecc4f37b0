"""``payments-platform plugins --settings NAME``: a plugin's settings schema and, per
environment, the values it would build with (validated exactly as a build validates them)."""

from __future__ import annotations

from typing import Any

from payments_platform.core.errors import ConfigError, did_you_mean
from payments_platform.core.host.builder import plugin_sources, validate_settings
from payments_platform.core.host.config import PlatformConfig
from payments_platform.core.host.plugin_manager import PlatformPluginManager
from payments_platform.core.host.settings_schema import model_checks, settings_fields, toml_value


def settings_report(config: PlatformConfig, plugin: str, environment: str | None) -> dict[str, Any]:
    """The schema of ``plugin``'s settings, and its values in ``environment`` (every
    environment when None). Only that plugin is imported."""
    sources = plugin_sources()
    if plugin not in sources:
        hint = did_you_mean(plugin, sources) or f" (installed: {', '.join(sorted(sources)) or 'none'})"
        raise ConfigError(f"no plugin '{plugin}' is installed{hint}")
    environments = (
        [config.environment(environment)]
        if environment
        else [config.environments[n] for n in sorted(config.environments)]
    )
    manager = PlatformPluginManager([plugin], sources, environment=environments[0].name)
    declaration = manager.declaration(plugin)
    source = sources[plugin]
    values = {}
    for env in environments:
        settings = validate_settings(env, declaration)
        values[env.name] = {
            "enabled": plugin in env.plugins,
            "set_in_config": sorted(env.plugin_settings(plugin)),
            "values": settings.model_dump(mode="json"),
        }
    return {
        "plugin": plugin,
        "distribution": source.distribution,
        "version": source.version,
        "description": declaration.description,
        "model": declaration.settings.__name__,
        "fields": [field.as_json() for field in settings_fields(declaration.settings)],
        "checks": model_checks(declaration.settings),
        "environments": values,
    }


def format_settings_report(report: dict[str, Any]) -> str:
    name = report["plugin"]
    lines = [
        f"plugin {name} ({report['distribution']} {report['version']}): {report['description']}",
        f"settings ({report['model']}): [environments.<env>.settings.{name}] merged over [defaults.settings.{name}]",
    ]
    if not report["fields"]:
        lines.append("  no settings")
    for field in report["fields"]:
        default = "required" if field["required"] else f"default {toml_value(field['default'])}"
        lines.append(f"  {field['name']}: {field['type']}, {default}")
        if field["constraints"]:
            lines.append(f"      constraints: {'; '.join(field['constraints'])}")
        if field["description"]:
            lines.append(f"      {field['description']}")
    if report["checks"]:
        lines.append(f"  checked across settings: {'; '.join(report['checks'])}")
    for env, body in report["environments"].items():
        state = "enabled" if body["enabled"] else "disabled"
        lines.append(f"environment {env} ({state}), set in environments.toml:")
        set_here = body["set_in_config"]
        for key in set_here:
            lines.append(f"  {key} = {toml_value(body['values'][key])}")
        lines.append("  the rest at their defaults" if set_here else "  nothing: every setting at its default")
    return "\n".join(lines)
