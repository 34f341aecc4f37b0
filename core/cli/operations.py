"""The team-operations commands of the CLI: plan, drift and state (bootstrap, migrate, unlock).

``register(commands)`` adds their parsers; ``COMMANDS`` maps each to its handler. Exit status
of plan/drift with ``--detailed-exitcode`` follows terraform's: 0 no changes, 2 changes, 1 error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from payments_platform.core.errors import PlatformError
from payments_platform.core.host.config import load_config

DEFAULT_SYNTH_OUT = "cdktf.out"


def register(commands: Any) -> None:
    for name, help_ in (
        ("plan", "synth + init + `terraform plan`, summarised by plugin (stateful replacements first)"),
        ("drift", "a refresh-only plan: what changed in AWS outside Terraform, by plugin"),
    ):
        command = commands.add_parser(name, help=help_)
        command.add_argument("--env", help="environment (default: the config's default)")
        command.add_argument(
            "--out", metavar="PLAN", help="keep the binary plan at PLAN and write its summary to PLAN.json"
        )
        command.add_argument(
            "--detailed-exitcode", action="store_true", help="exit 0: no changes, 2: changes, 1: error"
        )
        command.add_argument(
            "--lock-timeout", default="0s", help="how long to wait for a held state lock (default: 0s)"
        )
        _common(command)

    state = commands.add_parser("state", help="remote state: bootstrap the bucket, migrate local state, release a lock")
    actions = state.add_subparsers(dest="state_command", required=True, metavar="ACTION")
    for name, help_ in (
        ("bootstrap", "create the environment's state bucket and KMS key (idempotent)"),
        ("migrate", "move the environment's local state into its S3 backend"),
        ("unlock", "show who holds the state lock; with --lock-id, release it"),
    ):
        action = actions.add_parser(name, help=help_)
        action.add_argument("--env", help="environment (default: the config's default)")
        _common(action)
        if name == "unlock":
            action.add_argument("--lock-id", help="the lock ID to release (shown without this option)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--synth-out", default=DEFAULT_SYNTH_OUT, help=f"synth output directory (default: {DEFAULT_SYNTH_OUT})"
    )
    parser.add_argument("--provider-mirror", help="filesystem mirror holding hashicorp/aws (offline use)")
    parser.add_argument("--terraform", help="terraform binary (default: from PATH)")


def _environment(args: argparse.Namespace) -> Any:
    (environment,) = load_config(args.config).select([args.env] if args.env else None)
    return environment


def cmd_plan(args: argparse.Namespace, *, drift: bool = False) -> int:
    from payments_platform.core.ops.plan_command import run_plan

    try:
        outcome = run_plan(
            _environment(args),
            args.synth_out,
            drift=drift,
            out=args.out,
            lock_timeout=args.lock_timeout,
            binary=args.terraform,
            mirror=args.provider_mirror,
        )
    except PlatformError as exc:
        if args.detailed_exitcode:
            exc.exit_code = 1  # terraform's convention; 2 means "changes" here
        raise
    print(f"state: {outcome.workspace.state_location}")
    print(outcome.summary.render())
    if outcome.plan_file:
        print(
            f"plan: {outcome.plan_file} (holds secrets in clear: apply it, never upload it); summary: {outcome.summary_file}"
        )
    return 2 if args.detailed_exitcode and outcome.summary.has_changes else 0


def cmd_drift(args: argparse.Namespace) -> int:
    return cmd_plan(args, drift=True)


def cmd_state(args: argparse.Namespace) -> int:
    from payments_platform.core.ops import state_commands

    environment = _environment(args)
    options = {"binary": args.terraform, "mirror": args.provider_mirror}
    if args.state_command == "bootstrap":
        print(state_commands.bootstrap(environment, args.synth_out, **options))
    elif args.state_command == "migrate":
        print(state_commands.migrate(environment, args.synth_out, **options))
    elif args.lock_id:
        print(state_commands.unlock(environment, args.lock_id, args.synth_out, **options))
    else:
        print(state_commands.describe_lock(environment))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"plan": cmd_plan, "drift": cmd_drift, "state": cmd_state}
