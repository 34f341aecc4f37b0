"""The ``payments-platform`` command: synth, plugins, docs, new-plugin, validate, deploy, destroy, local, contract.

Bad input of any kind ends in one line on stderr and exit status 2 — never a traceback.
``--debug`` (anywhere on the command line) or ``PAYMENTS_DEBUG=1`` prints the full traceback
before that line: of a plugin's failing hook, of an unexpected failure, of any error.
A reader that closes the pipe early (``payments-platform plugins --json | head -1``) ends
the command quietly with exit status 141, as a tool killed by SIGPIPE would.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from payments_platform.core.api_version import PLUGIN_API_VERSION
from payments_platform.core.cli import operations as operations_cli
from payments_platform.core.errors import ConfigError, PlatformError
from payments_platform.core.host.config import load_config

PROG = "payments-platform"
DEFAULT_OUT = "cdktf.out"
DEBUG_ENV_VAR = "PAYMENTS_DEBUG"
# 128 + SIGPIPE: what a shell reports for a tool whose reader went away (`set -o pipefail`
# scripts see the same status as with any other Unix tool cut short by `head`).
EXIT_PIPE_CLOSED = 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Synthesize and validate the payments platform.")
    parser.add_argument("--config", help="environments file (default: environments.toml found upward from cwd)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = commands.add_parser("synth", help="write Terraform JSON for environment stacks")
    _env_options(synth)
    synth.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")

    plugins = commands.add_parser("plugins", help="list installed plugins and what an environment enables")
    plugins.add_argument("--env", help="environment (default: the config's default)")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.add_argument(
        "--settings",
        metavar="NAME",
        help="one plugin's settings: fields, types, defaults, constraints, and each environment's values (--env: one)",
    )

    docs = commands.add_parser(
        "docs", help="generate docs/REFERENCE.md (hooks, context keys, policy rules, settings) from the code"
    )
    docs.add_argument("--out", default="docs/REFERENCE.md", help="where to write it (default: docs/REFERENCE.md)")
    docs.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file differs from the code")

    new_plugin = commands.add_parser(
        "new-plugin", help="scaffold a plugin distribution: entry point, hooks, settings, tests"
    )
    new_plugin.add_argument(
        "name", help="the plugin's name (a lowercase Python identifier), the one environments enable"
    )
    new_plugin.add_argument("--dir", help="directory to create (default: ./payments-NAME); must not exist")

    validate = commands.add_parser("validate", help="synth, then run `terraform validate` on each stack")
    _env_options(validate)
    _terraform_options(validate)

    compliance = commands.add_parser(
        "compliance", help="PCI DSS control map from the synth, or (--gate) checkov against the reviewed baseline"
    )
    _env_options(compliance)
    compliance.add_argument("--format", choices=("md", "json"), default="md", help="control map format (default: md)")
    compliance.add_argument("--out", help="write the control map to this file (default: stdout)")
    compliance.add_argument(
        "--gate", action="store_true", help="fail on checkov findings outside compliance/checkov-baseline.toml"
    )
    compliance.add_argument(
        "--update-baseline",
        action="store_true",
        help="with --gate: re-generate the baseline (new entries need reasons)",
    )

    for name, verb in (("deploy", "synth, then `terraform apply`"), ("destroy", "synth, then `terraform destroy`")):
        command = commands.add_parser(name, help=f"{verb} one environment")
        command.add_argument("--env", help="environment (default: the config's default)")
        command.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
        _terraform_options(command)

    from payments_platform.core.cli.contract import add_parser as add_contract_parser
    from payments_platform.core.cli.local import add_parser as add_local_parser

    add_local_parser(commands)
    operations_cli.register(commands)
    add_contract_parser(commands)
    _accept_debug(parser, default=False)
    return parser


def _accept_debug(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """``--debug`` before or after any (sub)command: people type it where they notice the need."""
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help=f"print the full traceback of a failure (or set {DEBUG_ENV_VAR}=1)",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                # SUPPRESS: a subcommand without --debug must not reset one given before it.
                _accept_debug(subparser, default=argparse.SUPPRESS)


def _terraform_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")
    parser.add_argument("--provider-mirror", help="filesystem mirror holding hashicorp/aws (offline use)")
    parser.add_argument("--terraform", help="terraform binary (default: from PATH)")


def _env_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--env", action="append", help="environment to build (repeatable; default: the config's default)"
    )
    group.add_argument("--all", action="store_true", help="every environment in the config")


def _selected(args: argparse.Namespace, config: Any) -> list[Any]:
    names = sorted(config.environments) if args.all else args.env
    return config.select(names)


def cmd_synth(args: argparse.Namespace) -> int:
    from payments_platform.core.host.synth import synthesize

    config = load_config(args.config)
    environments = _selected(args, config)
    result = synthesize(environments, args.out)
    for name, path in result.stacks.items():
        count = sum(len(v) for v in (result.configs[name].get("resource") or {}).values())
        print(f"synthesized {name}: {count} resources → {_rel(path)}/cdk.tf.json")
        for warning in result.warnings.get(name, []):
            print(f"  warning: {warning}")
    print(f"synth took {result.seconds:.1f} s")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from payments_platform.core.host.synth import synthesize
    from payments_platform.core.ops.terraform import Terraform

    config = load_config(args.config)
    environments = _selected(args, config)
    result = synthesize(environments, args.out)
    terraform = Terraform.locate(result.outdir, binary=args.terraform, mirror=args.provider_mirror)
    source = f"provider mirror {terraform.mirror}" if terraform.mirror else "the Terraform registry"
    for name, path in result.stacks.items():
        started = time.perf_counter()
        terraform.init(path)
        terraform.validate(path)
        print(f"valid: {name} (terraform validate, provider from {source}, {time.perf_counter() - started:.1f} s)")
    return 0


def _apply(args: argparse.Namespace, verb: str) -> int:
    from payments_platform.core.ops.stack_workspace import StackWorkspace

    config = load_config(args.config)
    (environment,) = config.select([args.env] if args.env else None)
    workspace = StackWorkspace.prepare(environment, args.out, binary=args.terraform, mirror=args.provider_mirror)
    target = f"the emulator at {environment.aws_endpoint}" if environment.aws_endpoint else "AWS"
    print(f"{verb} {environment.stack_name} on {target} (state: {workspace.state_location})")
    started = time.perf_counter()
    args_ = [verb, "-input=false", "-auto-approve"] if args.auto_approve else [verb]
    workspace.terraform.stream(args_, workspace.stack_dir, interactive=not args.auto_approve, explain=workspace.explain)
    print(f"{verb} of {environment.stack_name} finished in {time.perf_counter() - started:.0f} s")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    return _apply(args, "apply")


def cmd_destroy(args: argparse.Namespace) -> int:
    return _apply(args, "destroy")


def cmd_compliance(args: argparse.Namespace) -> int:
    from payments_platform.core.ops.compliance.gate import run_command

    return run_command(args, load_config(args.config))


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

    scaffold = check_new_plugin(args.name, args.dir)
    written = write_scaffold(scaffold)
    print(f"created {scaffold.directory}/ (plugin '{scaffold.name}', distribution {scaffold.distribution}):")
    print("\n".join(f"  {path}" for path in written))
    print(
        f"next: pip install -e {scaffold.directory} && pytest {scaffold.directory}; "
        f'then add "{scaffold.name}" to an environment\'s plugins in environments.toml'
    )
    return 0


COMMANDS = {
    "synth": cmd_synth,
    "new-plugin": cmd_new_plugin,
    "docs": cmd_docs,
    "plugins": cmd_plugins,
    "validate": cmd_validate,
    "deploy": cmd_deploy,
    "destroy": cmd_destroy,
    "local": lambda args: _local(args),
    "compliance": cmd_compliance,
    **operations_cli.COMMANDS,
    "contract": lambda args: _contract(args),
}


def _local(args: argparse.Namespace) -> int:
    from payments_platform.core.cli.local import cmd_local

    return cmd_local(args)


def _contract(args: argparse.Namespace) -> int:
    from payments_platform.core.cli.contract import cmd_contract

    return cmd_contract(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV_VAR, "") not in ("", "0")
    try:
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a reader gone early shows here, not in the interpreter's exit
        return status
    except BrokenPipeError as exc:
        if not _stdout_closed():
            return _internal_error(exc, debug)
        # The Python docs' recipe: nothing more can reach the reader, and the interpreter's
        # own flush at exit must not fail again with a second BrokenPipeError.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE_CLOSED
    except PlatformError as exc:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {exc.line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        # Ctrl-C reached the whole foreground process group, jsii's node child too: its atexit
        # handler would print a BrokenPipe traceback. Everything of ours is cleaned up already.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        return _internal_error(exc, debug)


def _internal_error(exc: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    hint = "" if debug else f" (run with --debug or {DEBUG_ENV_VAR}=1 for the traceback)"
    print(f"{PROG}: internal error: {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
    return 70


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (POLLERR on its write end), as opposed
    to a BrokenPipeError from some other pipe or socket, which is a real failure."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
