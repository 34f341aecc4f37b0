"""The team-operations commands of the CLI: plan, drift and state (bootstrap, migrate, unlock).

Exit status
of plan/drift with ``--detailed-exitcode`` follows terraform's: 0 no changes, 2 changes, 1 error.
"""

from __future__ import annotations

import argparse
from typing import Any

from payments_platform.core.cli.options import env_option, synth_dir_option, terraform_options
from payments_platform.core.cli.registry import Commands
from payments_platform.core.errors import PlatformError
from payments_platform.core.host.config import load_config


def register(commands: Commands) -> None:
    for name, help_, handler in (
        ("plan", "synth + init + `terraform plan`, summarised by plugin (stateful replacements first)", cmd_plan),
        ("drift", "a refresh-only plan: what changed in AWS outside Terraform, by plugin", cmd_drift),
    ):
        command = commands.add(name, help=help_, handler=handler)
        env_option(command)
        command.add_argument(
            "--out", metavar="PLAN", help="keep the binary plan at PLAN and write its summary to PLAN.json"
        )
        command.add_argument(
            "--detailed-exitcode", action="store_true", help="exit 0: no changes, 2: changes, 1: error"
        )
        command.add_argument(
            "--lock-timeout", default="0s", help="how long to wait for a held state lock (default: 0s)"
        )
        synth_dir_option(command, retired=("--synth-out",))
        terraform_options(command)

    _, actions = commands.add_group(
        "state", help="remote state: bootstrap the bucket, migrate local state, release a lock", dest="state_command"
    )
    for name, help_, handler in (
        ("bootstrap", "create the environment's state bucket and KMS key (idempotent)", cmd_state_bootstrap),
        ("migrate", "move the environment's local state into its S3 backend", cmd_state_migrate),
        ("unlock", "show who holds the state lock; with --lock-id, release it", cmd_state_unlock),
    ):
        action = actions.add(name, help=help_, handler=handler)
        env_option(action)
        synth_dir_option(action, retired=("--synth-out",))
        terraform_options(action)
        if name == "unlock":
            action.add_argument("--lock-id", help="the lock ID to release (shown without this option)")


def _environment(args: argparse.Namespace) -> Any:
    (environment,) = load_config(args.config).select([args.env] if args.env else None)
    return environment


def cmd_plan(args: argparse.Namespace, *, drift: bool = False) -> int:
    from payments_platform.core.ops.plan_command import run_plan

    try:
        outcome = run_plan(
            _environment(args),
            args.synth_dir,
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
    # What synth warns about (e.g. a Lambda concurrency quota to request first) belongs in the review too.
    for warning in outcome.workspace.synth.warnings.get(outcome.workspace.environment.stack_name, []):
        print(f"warning: {warning}")
    print(outcome.summary.render())
    if outcome.plan_file:
        print(
            f"plan: {outcome.plan_file} (holds secrets in clear: apply it, never upload it); summary: {outcome.summary_file}"
        )
    return 2 if args.detailed_exitcode and outcome.summary.has_changes else 0


def cmd_drift(args: argparse.Namespace) -> int:
    return cmd_plan(args, drift=True)


def _terraform(args: argparse.Namespace) -> dict[str, Any]:
    return {"binary": args.terraform, "mirror": args.provider_mirror}


def cmd_state_bootstrap(args: argparse.Namespace) -> int:
    from payments_platform.core.ops import state_commands

    print(state_commands.bootstrap(_environment(args), args.synth_dir, **_terraform(args)))
    return 0


def cmd_state_migrate(args: argparse.Namespace) -> int:
    from payments_platform.core.ops import state_commands

    print(state_commands.migrate(_environment(args), args.synth_dir, **_terraform(args)))
    return 0


def cmd_state_unlock(args: argparse.Namespace) -> int:
    from payments_platform.core.ops import state_commands

    environment = _environment(args)
    if args.lock_id:
        print(state_commands.unlock(environment, args.lock_id, args.synth_dir, **_terraform(args)))
    else:
        print(state_commands.describe_lock(environment))
    return 0
