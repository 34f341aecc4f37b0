"""`payments-platform plan` and `drift`: a saved Terraform plan, summarised by plugin.

plan: synth + init + ``terraform plan``. drift: the same with ``-refresh-only`` — what changed
in AWS outside Terraform. ``--out PLAN`` keeps the binary plan (for ``terraform apply PLAN``
in the same job: it holds secrets in clear, never upload it) and writes ``PLAN.json``, the
summary with no values, which is safe as a review artifact.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.errors import TerraformError
from payments_platform.core.ops.plan_summary import PlanSummary, summarize
from payments_platform.core.ops.stack_workspace import StackWorkspace


@dataclass
class PlanOutcome:
    summary: PlanSummary
    workspace: StackWorkspace
    plan_file: Path | None
    summary_file: Path | None


def run_plan(
    environment: EnvironmentConfig,
    synth_out: str | Path,
    *,
    drift: bool = False,
    out: str | Path | None = None,
    lock_timeout: str = "0s",
    binary: str | None = None,
    mirror: str | None = None,
) -> PlanOutcome:
    workspace = StackWorkspace.prepare(environment, synth_out, binary=binary, mirror=mirror)
    with tempfile.TemporaryDirectory(prefix=".plan-", dir=workspace.stack_dir) as scratch:
        plan_file = Path(out).resolve() if out else Path(scratch) / "plan.tfplan"
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        args = [
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            f"-lock-timeout={lock_timeout}",
            f"-out={plan_file}",
        ]
        if drift:
            args.append("-refresh-only")
        workspace.run(args, ok=(0, 2))  # 2: there are changes
        shown = workspace.run(["show", "-json", "-no-color", str(plan_file)])
        try:
            plan = json.loads(shown.stdout)
        except json.JSONDecodeError:
            raise TerraformError(f"terraform show -json gave no JSON for {environment.stack_name}") from None
        summary = summarize(
            plan,
            workspace.config,
            environment.stack_name,
            plugins=environment.plugins,
            mode="drift" if drift else "plan",
        )
        summary_file = None
        if out:
            summary_file = plan_file.with_name(plan_file.name + ".json")
            _write_atomically(summary_file, json.dumps(summary.to_json(), indent=2, sort_keys=True) + "\n")
    return PlanOutcome(summary, workspace, plan_file if out else None, summary_file)


def _write_atomically(path: Path, text: str) -> None:
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(text)
    os.replace(scratch, path)
