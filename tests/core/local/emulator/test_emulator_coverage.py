"""The emulator's coverage as data (issue #18): each resource type's provider actions checked against
what moto dispatches; the table in docs/LOCAL_DEPLOYMENT.md is generated from it; the emulator
journals what it cannot serve."""

from __future__ import annotations

import json
from pathlib import Path

import botocore.config
import botocore.exceptions
import pytest

from payments_platform.core.local.emulator.coverage import (
    PROVIDER_ACTIONS,
    coverage_warnings,
    render_into,
    type_coverage,
)
from payments_platform.core.local.emulator.failure_journal import read_failures
from payments_platform.core.testing.emulator import running_emulator

REPO = Path(__file__).resolve().parents[4]


def test_an_aws_backup_selection_is_a_gap_moto_publishes():
    coverage = type_coverage("aws_backup_selection")
    assert coverage.service == "backup" and "CreateBackupSelection" in coverage.missing


def test_a_type_moto_serves_is_deployable():
    assert type_coverage("aws_dynamodb_table").deployable


def test_s3_sub_resources_are_checked_through_moto_s3_routing():
    assert type_coverage("aws_s3_bucket_lifecycle_configuration").deployable


def test_a_type_not_in_the_table_is_unknown_not_assumed_to_work():
    coverage = type_coverage("aws_neptune_cluster")
    assert coverage.service is None and not coverage.deployable


def config_with(rtype: str, plugin: str = "backup") -> dict:
    return {"resource": {rtype: {"x": {"//": {"metadata": {"path": f"payments-local/{plugin}/x"}}}}}}


def test_synth_warning_names_the_type_the_plugin_the_actions_and_what_to_do():
    (warning,) = coverage_warnings(config_with("aws_backup_selection"))
    assert warning.startswith("[emulator] aws_backup_selection (plugin backup) needs backup:CreateBackupSelection")
    assert "disable the plugin" in warning and "teach the emulator" in warning


def test_every_platform_resource_type_in_local_is_deployable():
    config = json.loads((REPO / "tests" / "snapshots" / "payments-dev.json").read_text())
    types = set(config["resource"]) - {"aws_lambda_code_signing_config", "aws_signer_signing_job"}
    assert [t for t in sorted(types) if not type_coverage(t).deployable] == []


def test_the_documented_table_is_current():
    docs = (REPO / "docs" / "LOCAL_DEPLOYMENT.md").read_text()
    assert render_into(docs) == docs, (
        "stale: python -m payments_platform.core.local.emulator.coverage --write docs/LOCAL_DEPLOYMENT.md"
    )


def test_the_table_knows_every_type_the_emulator_environment_snapshot_holds():
    config = json.loads((REPO / "tests" / "snapshots" / "payments-dev.json").read_text())
    assert sorted(set(config["resource"]) - set(PROVIDER_ACTIONS)) == []


def test_the_emulator_journals_a_not_implemented_action_with_its_service(tmp_path: Path):
    journal = tmp_path / "failures.jsonl"
    with running_emulator(tmp_path, extra_args=["--failure-journal", str(journal)]) as emulator:
        backup = emulator.admin_session("us-east-1").client(
            "backup", endpoint_url=emulator.endpoint, config=botocore.config.Config(retries={"max_attempts": 1})
        )
        with pytest.raises(botocore.exceptions.ClientError):
            backup.create_backup_selection(
                BackupPlanId="p", BackupSelection={"SelectionName": "s", "IamRoleArn": "arn:aws:iam::1:role/r"}
            )
    failures, _ = read_failures(journal)
    # One line per request the client sent (botocore may retry a 500 once).
    assert failures and {(f.service, f.action, f.not_implemented) for f in failures} == {
        ("backup", "CreateBackupSelection", True)
    }
