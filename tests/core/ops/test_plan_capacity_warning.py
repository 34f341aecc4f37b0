"""`plan` and `synth` of prod say in one line which Lambda quota the environment needs (issue #30)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from payments_platform.core.host.config import load_config
from payments_platform.core.ops import plan_command
from payments_platform.core.ops.stack_workspace import StackWorkspace

from cli_runner import run_cli

REPO = Path(__file__).resolve().parents[3]


def quota_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "Lambda concurrent executions" in line]


def test_synth_of_prod_names_the_lambda_quota_and_the_figure_in_one_line(tmp_path: Path):
    result = run_cli("synth", "--env", "prod", "--synth-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = quota_lines(result.stdout)
    assert "quota of 4,354 in us-east-1" in line and "quota code L-B99A9384" in line


def test_plan_of_prod_prints_the_same_line_before_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (prod,) = load_config(REPO / "environments.toml").select(["prod"])
    workspace = StackWorkspace.prepare(prod, tmp_path, init=False)  # a real synth; terraform is not the point here

    def planned(*args, **kwargs):
        summary = SimpleNamespace(render=lambda: "no changes", has_changes=False)
        return SimpleNamespace(workspace=workspace, summary=summary, plan_file=None, summary_file=None)

    monkeypatch.setattr(plan_command, "run_plan", planned)
    result = run_cli("plan", "--env", "prod")
    assert result.returncode == 0, result.stderr
    (line,) = quota_lines(result.stdout)
    assert line.startswith("warning: [PP-CAPACITY] needs a 'Lambda concurrent executions' quota of 4,354")
