"""``plugins``, ``docs`` and ``new-plugin``: what is installed, the generated reference, and a new
plugin distribution."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from payments_platform.core.api_version import PLUGIN_API_VERSION
from payments_platform.core.cli.options import env_option
from payments_platform.core.cli.registry import Commands
from payments_platform.core.errors import ConfigError
from payments_platform.core.host.config import load_config


def register(commands: Commands) -> None:
    plugins = commands.add(
        "plugins", help="list installed plugins and what an environment enables", handler=cmd_plugins
    )
    env_option(plugins)
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.add_argument(
        "--settings",
        metavar="NAME",
        help="one plugin's settings: fields, types, defaults, constraints, and each environment's values (--env: one)",
    )

    docs = commands.add(
        "docs",
        help="generate docs/REFERENCE.md (hooks, context keys, policy rules, settings) from the code",
        handler=cmd_docs,
    )
    docs.add_argument(
        "--out", metavar="FILE", default="docs/REFERENCE.md", help="where to write it (default: docs/REFERENCE.md)"
    )
    docs.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file differs from the code")

    new_plugin = commands.add(
        "new-plugin", help="scaffold a plugin distribution: entry point, hooks, settings, tests", handler=cmd_new_plugin
    )
    new_plugin.add_argument(
        "name", help="the plugin's name (a lowercase Python identifier), the one environments enable"
    )
    new_plugin.add_argument("--dir", help="directory to create (default: ./payments-NAME); must not exist")
    new_plugin.add_argument(
        "--kind",
        default="queue",
        help="what the example is: a queue the transaction processor sends to (default), or a kind an installed "
        "plugin contributes (an unknown kind is refused with the list)",
    )


def cmd_plugins(args: argparse.Namespace) -> int:
    from payments_platform.core.host.builder import plugin_sources
    from payments_platform.core.host.plugin_manager import PlatformPluginManager

    config = load_config(args.config)
    if args.settings:
        from payments_platform.core.authoring.settings_report import format_settings_report, settings_report

        report = settings_report(config, args.settings, args.env)
        print(json.dumps(report, indent=2) if args.json else format_settings_report(report))
        return 0
    env = config.environment(args.env)
    sources = plugin_sources()
    manager = PlatformPluginManager(
        env.plugins, sources, environment=env.name, configured={name: env.settings_table(name) for name in env.settings}
    )
    rows = []
    for name in sorted(sources):
        source = sources[name]
        row: dict[str, Any] = {
            "name": name,
            "distribution": source.distribution,
            "version": source.version,
            "module": source.target,
            "enabled": name in env.plugins,
        }
        if name in env.plugins:
            declaration = manager.declaration(name)
            row.update(
                description=declaration.description,
                hooks=manager.hooks_of(name),
                provides=[k.name for k in declaration.provides],
                requires=[k.name for k in declaration.requires],
                uses=[k.name for k in declaration.uses],
                requires_api=declaration.requires_api,
            )
        rows.append(row)
    if args.json:
        print(
            json.dumps(
                {
                    "environment": env.name,
                    "plugin_api_version": PLUGIN_API_VERSION,
                    "plugins_from": env.plugins_from,
                    "plugins": rows,
                },
                indent=2,
            )
        )
        return 0
    print(f"environment {env.name} (suffix {env.suffix}, region {env.regions.deploy}); plugin API {PLUGIN_API_VERSION}")
    if env.plugins_from:
        print(f"  plugins: {env.plugins_from}")
    for row in rows:
        state = "enabled " if row["enabled"] else "disabled"
        print(f"  {state} {row['name']:<14} {row['distribution']} {row['version']}  ({row['module']})")
        if row["enabled"]:
            print(f"           hooks: {', '.join(row['hooks'])}")
            if row["requires_api"]:
                print(f"           requires plugin API {row['requires_api']}")
            if row["provides"] or row["requires"]:
                print(
                    f"           provides: {', '.join(row['provides']) or '-'}; requires: {', '.join(row['requires']) or '-'}"
                )
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from payments_platform.core.authoring.reference import REGENERATE, render_reference, write_reference

    out = Path(args.out)
    if args.check:
        fresh = out.exists() and out.read_text(encoding="utf-8") == render_reference()
        print(f"{out} is up to date" if fresh else f"{out} is stale: run `{REGENERATE}`")
        return 0 if fresh else 1
    try:
        changed = write_reference(out)
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"{'wrote' if changed else 'unchanged:'} {out}")
    return 0


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from payments_platform.core.authoring.scaffold import check_new_plugin, write_scaffold

    scaffold = check_new_plugin(args.name, args.dir, args.kind)
    written = write_scaffold(scaffold)
    print(f"created {scaffold.directory}/ (plugin '{scaffold.name}', distribution {scaffold.distribution}):")
    print("\n".join(f"  {path}" for path in written))
    print(f"next: pip install -e {scaffold.directory} && pytest {scaffold.directory}; then {scaffold.next_step()}")
    return 0
