"""``payments-platform local up | down | smoke | forget | fault`` ."""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Any

from payments_platform.core.cli import local_fault
from payments_platform.core.cli.options import env_option, terraform_options
from payments_platform.core.cli.registry import Commands, Handler
from payments_platform.core.errors import ConfigError
from payments_platform.core.local import DEFAULT_ENVIRONMENT


def register(commands: Commands) -> None:
    _, actions = commands.add_group(
        "local", help="the whole platform on this machine: emulator, deployment, HTTP API", dest="local_command"
    )
    start = actions.add(
        "up",
        help="start the emulator, deploy, serve the API (Ctrl-C: stop, and everything deployed with it)",
        handler=cmd_up,
    )
    env_option(
        start, default=DEFAULT_ENVIRONMENT, help=f"an environment with aws_endpoint (default: {DEFAULT_ENVIRONMENT})"
    )
    start.add_argument("--port", type=_port, default=0, help="the API's loopback port (default: any free one)")
    start.add_argument(
        "--keep", action="store_true", help="leave everything running and return (`local down` stops it)"
    )
    start.add_argument(
        "--fresh",
        action="store_true",
        help="the cold path: ignore the snapshots of earlier runs (a successful run still keeps one)",
    )
    start.add_argument(
        "--watch",
        action="store_true",
        help="serve saved changes: runtime/ code in seconds, plugins/, extensions/, environments.toml by terraform apply",
    )
    smoke = actions.add(
        "smoke", help="up → take a payment end to end → check everything → down (exit 0/1)", handler=cmd_smoke
    )
    env_option(smoke, default=DEFAULT_ENVIRONMENT)
    down_ = actions.add(
        "down", help="stop whatever a previous `local up` left running, and all it deployed", handler=cmd_down
    )
    forget = actions.add(
        "forget",
        help="remove the snapshots `local up` starts warm from (`local down` keeps them)",
        handler=cmd_forget,
    )
    for parser in (start, down_):
        parser.add_argument(
            "--destroy",
            action="store_true",
            help="run terraform destroy before stopping the emulator (slower; stopping it alone removes everything)",
        )
    for parser in (start, smoke, down_, forget):
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
    """Never fails: the teardown must not depend on the terminal (terminal.console)."""
    from payments_platform.core.local.terminal import console

    console(line)


def _session(args: argparse.Namespace) -> Any:
    from payments_platform.core.local.session import LocalSession

    return LocalSession.for_config(
        args.config, say=_say, terraform_binary=args.terraform, provider_mirror=args.provider_mirror
    )


def _interruptible(handler: Handler) -> Handler:
    """SIGTERM and SIGHUP interrupt a local command as Ctrl-C does: what it started is torn down."""

    def run(args: argparse.Namespace) -> int:
        from payments_platform.core.local.signals import stop_signals_interrupt

        with stop_signals_interrupt():
            return handler(args)

    return run


@_interruptible
def cmd_down(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if _session(args).down(destroy=args.destroy):
        _say(f"local run stopped and cleaned up in {time.perf_counter() - started:.1f} s")
    else:
        _say("nothing to clean up: no local run is recorded")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    count = _session(args).forget_snapshots()
    _say(f"{count} snapshot(s) forgotten" if count else "no snapshots to forget")
    return 0


@_interruptible
def cmd_smoke(args: argparse.Namespace) -> int:
    passed = _session(args).smoke(args.env)
    _say("smoke: passed" if passed else "smoke: FAILED")
    return 0 if passed else 1


@_interruptible
def cmd_up(args: argparse.Namespace) -> int:
    # Loaded here, not at import: the other commands need neither the emulator nor jsii.
    from payments_platform.core.cdktf_adapter import stop_jsii_runtime

    if args.watch and args.keep:
        raise ConfigError("--watch serves saved changes in the foreground: it cannot be combined with --keep")
    session, started = _session(args), time.perf_counter()
    record = session.up(args.env, port=args.port, keep=args.keep, fresh=args.fresh)
    examples = _example_lines(args, session.run, record)  # before jsii stops: loading the plugins may start it
    stop_jsii_runtime()  # synth is done; what follows must survive the terminal's Ctrl-C
    _say(f"up in {time.perf_counter() - started:.1f} s")
    for line in session.describe(examples):
        _say(line)
    if args.keep:
        _say("left running (--keep): `payments-platform local down` destroys and stops it")
        return 0
    with session.reloading(args.env) if args.watch else contextlib.nullcontext():
        _say("Ctrl-C stops everything (and all it deployed).  Function output and requests:")
        reason = session.serve()
    _say(f"stopping ({reason}) …")
    session.down(destroy=args.destroy)
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
