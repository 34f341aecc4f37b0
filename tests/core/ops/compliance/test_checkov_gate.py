"""The CI gate: checkov 3.3.30 on every environment's synth, against the reviewed baseline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from payments_platform.core.host.config import load_config
from payments_platform.core.ops.compliance.baseline import MAX_ENTRIES_PER_ENVIRONMENT, load_baseline
from payments_platform.core.ops.compliance.checkov import CHECKOV_VERSION, locate_checkov, run_checkov
from payments_platform.core.ops.compliance.gate import baseline_path, verdict_of

REPO = Path(__file__).resolve().parents[4]
ENVIRONMENTS = sorted(load_config(REPO / "environments.toml").environments)


@pytest.fixture(scope="module")
def verdict(platform_config, checkov_scan):
    return verdict_of(platform_config, checkov_scan)


def test_checkov_is_the_pinned_version(checkov_scan):
    assert checkov_scan.report.version == CHECKOV_VERSION


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_checkov_scanned_the_environment(checkov_scan, platform_config, environment):
    stack = platform_config.environment(environment).stack_name
    assert sum(1 for r in checkov_scan.report.results if r.stack == stack and r.passed) > 100


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_checkov_finding_outside_the_baseline(verdict, environment):
    new = [line for line in verdict.new_findings if line.startswith(f"{environment}:")]
    assert not new, "\n".join(new)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_stale_baseline_entry(verdict, environment):
    stale = [line for line in verdict.stale_entries if line.startswith(f"{environment}:")]
    assert not stale, "\n".join(stale)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_baseline_has_at_most_ten_entries(platform_config, environment):
    baseline = load_baseline(baseline_path(platform_config), platform_config.environments)
    assert len(baseline.for_environment(environment)) <= MAX_ENTRIES_PER_ENVIRONMENT


def test_inline_skip_comments_are_ignored_by_checkov_terraform_json(tmp_path):
    """Why the gate filters checkov's output through its own baseline: checkov 3.3.30's
    terraform_json runner does not honour `checkov:skip` in a resource's `//` comment."""
    group = {"//": "checkov:skip=CKV_AWS_338:30 days by specification", "name": "g", "retention_in_days": 30}
    (tmp_path / "cdk.tf.json").write_text(json.dumps({"resource": {"aws_cloudwatch_log_group": {"g": group}}}))
    completed = subprocess.run(
        [
            str(locate_checkov(REPO)),
            "-f",
            str(tmp_path / "cdk.tf.json"),
            "--framework",
            "terraform_json",
            "--skip-download",
            "--check",
            "CKV_AWS_338",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    results = json.loads(completed.stdout)["results"]
    assert [r["check_id"] for r in results["failed_checks"]] == ["CKV_AWS_338"]
    assert results["skipped_checks"] == []


def test_a_stack_with_moved_blocks_is_scanned():
    """checkov 3.3.30 cannot parse a top-level `moved` list (and would scan nothing in the stack):
    run_checkov leaves the moved blocks out of what it reads."""
    group = {"name": "g", "retention_in_days": 30}
    config = {
        "resource": {"aws_cloudwatch_log_group": {"g": group}},
        "moved": [{"from": "aws_cloudwatch_log_group.old", "to": "aws_cloudwatch_log_group.g"}],
    }
    report = run_checkov({"payments-dev": config}, locate_checkov(REPO))
    assert {r.address for r in report.results} == {"aws_cloudwatch_log_group.g"}
