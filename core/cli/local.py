"""``payments-platform local up | down | smoke | fault`` ."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from payments_platform.core.cli import local_fault
from payments_platform.core.cli.options import env_option, terraform_options
from payments_platform.core.cli.registry import Commands
from payments_platform.core.local import DEFAULT_ENVIRONMENT


def register(commands: Commands) -> None:
    local = commands.add(
        "local", help="the whole platform on this machine: emulator, deployment, HTTP API", handler=cmd_local
    )
    actions = commands.group(local, "local_command")
    start = actions.add(
        "up",
        help="start the emulator, deploy, serve the API (Ctrl-C: stop, and everything deployed with it)",
        handler=cmd_local,
    )
    env_option(
        start, default=DEFAULT_ENVIRONMENT, help=f"an environment with aws_endpoint (default: {DEFAULT_ENVIRONMENT})"
    )
    start.add_argument("--port", type=_port, default=0, help="the API's loopback port (default: any free one)")
    start.add_argument(
        "--keep", action="store_true", help="leave everything running and return (`local down` stops it)"
    )
    start.add_argument(
        "--watch",
        action="store_true",
        help="serve saved changes: runtime/ code in seconds, plugins/, extensions/, environments.toml by terraform apply",
    )
    smoke = actions.add(
        "smoke", help="up → take a payment end to end → check everything → down (exit 0/1)", handler=cmd_local
    )
    env_option(smoke, default=DEFAULT_ENVIRONMENT)
    down_ = actions.add(
        "down", help="stop whatever a previous `local up` left running, and all it deployed", handler=cmd_local
    )
    for parser in (start, down_):
        parser.add_argument(
            "--destroy",
            action="store_true",
            help="run terraform destroy before stopping the emulator (slower; stopping it alone removes everything)",
        )
    for parser in (start, smoke, down_):
        terraform_options(parser)
    local_fault.register(actions)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


def _say(line: str) -> None:
    """Never fails: the teardown must not depend on the terminal (lifecycle.console)."""
    from payments_platform.core.local.lifecycle import console

    console(line)


def cmd_local(args: argparse.Namespace) -> int:
    from payments_platform.core.local.lifecycle import stop_signals_interrupt

    with stop_signals_interrupt():
        return _cmd_local(args)


def _cmd_local(args: argparse.Namespace) -> int:
    # Loaded here, not at import: the other commands need neither the emulator nor jsii.
    from payments_platform.core.cdktf_adapter import stop_jsii_runtime
    from payments_platform.core.local.lifecycle import default_run, describe, down, follow, up

    run = default_run(args.config, say=_say)
    tools = {"terraform_binary": args.terraform, "provider_mirror": args.provider_mirror}
    if args.local_command == "down":
        with run.lock():
            started = time.perf_counter()
            if down(run, **tools, destroy=args.destroy):
                _say(f"local run stopped and cleaned up in {time.perf_counter() - started:.1f} s")
            else:
                _say("nothing to clean up: no local run is recorded")
        return 0
    if args.local_command == "smoke":
        from payments_platform.core.local.smoke import run_smoke

        with run.lock():
            passed = run_smoke(
                run,
                plan_check=lambda record: _no_changes(run, record, tools),
                config_path=args.config,
                environment_name=args.env,
                **tools,
            )
        _say("smoke: passed" if passed else "smoke: FAILED")
        return 0 if passed else 1

    if args.watch and args.keep:
        from payments_platform.core.local.processes import LocalRunError

        raise LocalRunError("--watch serves saved changes in the foreground: it cannot be combined with --keep")
    started = time.perf_counter()
    with run.lock():
        record = up(
            run,
            config_path=args.config,
            environment_name=args.env,
            port=args.port,
            die_with_parent=not args.keep,
            **tools,
        )
    examples = _example_lines(args, run, record)  # before jsii stops: loading the plugins may start it
    stop_jsii_runtime()  # synth is done; what follows must survive the terminal's Ctrl-C
    _say(f"up in {time.perf_counter() - started:.1f} s")
    for line in describe(record, examples):
        _say(line)
    if args.keep:
        _say("left running (--keep): `payments-platform local down` destroys and stops it")
        return 0
    watching = _start_watch(run, record, args, tools) if args.watch else None
    _say("Ctrl-C stops everything (and all it deployed).  Function output and requests:")
    try:
        reason = follow(run, record)
    finally:
        if watching is not None:
            try:
                from payments_platform.core.local import watch

                watch.finish(*watching)
            except Exception as exc:  # never in the way of the teardown below
                _say(f"(the watcher did not stop cleanly: {exc})")
    _say(f"stopping ({reason}) …")
    with run.lock():
        down(run, **tools, destroy=args.destroy)
    _say("stopped; nothing left running")
    return 0 if reason in ("SIGINT", "SIGTERM", "SIGHUP") else 1


def _example_lines(args: argparse.Namespace, run: Any, record: Any) -> list[str]:
    """The enabled plugins' example requests (payments_local_examples), as curl lines; a plugin
    failing there costs the examples, not the running deployment."""
    from payments_platform.core.errors import PlatformError
    from payments_platform.core.local.api_hooks import example_lines, example_requests

    try:
        return example_lines(example_requests(args.config, run.run_dir, record))
    except PlatformError as exc:
        return ["", f"(no example requests: {exc})"]


def _start_watch(run: Any, record: Any, args: argparse.Namespace, tools: dict[str, Any]) -> Any:
    from payments_platform.core.host.config import find_config_file
    from payments_platform.core.local import watch
    from payments_platform.core.ops.terraform import Terraform

    loop = watch.DevLoop(
        run_dir=run.run_dir,
        endpoint=record.endpoint,
        region=record.region,
        stack_dir=Path(record.stack_dir),
        config_path=find_config_file(Path(args.config) if args.config else None),
        environment_name=args.env,
        terraform=Terraform.locate(run.run_dir, binary=tools["terraform_binary"], mirror=tools["provider_mirror"]),
        say=_say,
    )
    return (loop, *watch.start(loop))


def _no_changes(run: Any, record: Any, tools: dict[str, Any]) -> str:
    from payments_platform.core.local.lifecycle import planned_changes
    from payments_platform.core.local.smoke import SmokeFailure

    changes = planned_changes(run, record, **tools)
    if changes:
        raise SmokeFailure(f"{len(changes)} planned change(s): " + "; ".join(changes[:10]))
    return "exit code 0"
