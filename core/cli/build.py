"""``synth``, ``validate``, ``deploy``, ``destroy`` and ``compliance``: building the environments'
Terraform configuration, checking it, and applying it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from payments_platform.core.cli.options import (
    env_option,
    environments_option,
    selected_environments,
    synth_dir_option,
    terraform_options,
)
from payments_platform.core.cli.registry import Commands
from payments_platform.core.host.config import load_config


def register(commands: Commands) -> None:
    synth = commands.add("synth", help="write Terraform JSON for environment stacks", handler=cmd_synth)
    environments_option(synth)
    synth_dir_option(synth)

    validate = commands.add("validate", help="synth, then run `terraform validate` on each stack", handler=cmd_validate)
    environments_option(validate)
    synth_dir_option(validate)
    terraform_options(validate)

    compliance = commands.add(
        "compliance",
        help="PCI DSS control map from the synth, or (--gate) checkov against the reviewed baseline",
        handler=cmd_compliance,
    )
    environments_option(compliance)
    compliance.add_argument("--format", choices=("md", "json"), default="md", help="control map format (default: md)")
    compliance.add_argument("--out", metavar="FILE", help="write the control map to FILE (default: stdout)")
    compliance.add_argument(
        "--gate", action="store_true", help="fail on checkov findings outside compliance/checkov-baseline.toml"
    )
    compliance.add_argument(
        "--update-baseline",
        action="store_true",
        help="with --gate: re-generate the baseline (new entries need reasons)",
    )

    for name, verb, handler in (
        ("deploy", "synth, then `terraform apply`", cmd_deploy),
        ("destroy", "synth, then `terraform destroy`", cmd_destroy),
    ):
        command = commands.add(name, help=f"{verb} one environment", handler=handler)
        env_option(command)
        command.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
        synth_dir_option(command)
        terraform_options(command)


def cmd_synth(args: argparse.Namespace) -> int:
    from payments_platform.core.host.synth import synthesize
    from payments_platform.core.local.emulator.coverage import emulator_gaps

    config = load_config(args.config)
    environments = selected_environments(args, config)
    result = synthesize(environments, args.synth_dir, stack_checks=[emulator_gaps])
    for name, path in result.stacks.items():
        count = sum(len(v) for v in (result.configs[name].get("resource") or {}).values())
        print(f"synthesized {name}: {count} resources → {_rel(path)}/cdk.tf.json")
        for note in result.notes(name):
            print(f"  note: {note}")
        for warning in result.warnings.get(name, []):
            print(f"  warning: {warning}")
    print(f"synth took {result.seconds:.1f} s")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from payments_platform.core.host.synth import synthesize
    from payments_platform.core.ops.terraform import Terraform

    config = load_config(args.config)
    environments = selected_environments(args, config)
    result = synthesize(environments, args.synth_dir)
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
    workspace = StackWorkspace.prepare(environment, args.synth_dir, binary=args.terraform, mirror=args.provider_mirror)
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


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
