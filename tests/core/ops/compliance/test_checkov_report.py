"""Reading checkov's JSON: one address spelling, the pinned version, checks it could not run."""

from __future__ import annotations

import pytest

from payments_platform.core.errors import ComplianceError
from payments_platform.core.ops.compliance.checkov import locate_checkov, parse_report

CONFIGS = {"payments-dev": {"resource": {"aws_api_gateway_stage": {"api_stage_1": {}}}}}


def report(version: str = "3.3.30", **results) -> dict:
    return {"check_type": "terraform_json", "summary": {"checkov_version": version}, "results": results}


def item(check: str, resource: str) -> dict:
    return {"check_id": check, "check_name": "n", "resource": resource, "file_path": "/payments-dev/cdk.tf.json"}


def test_resource_and_graph_check_spellings_become_one_terraform_address():
    parsed = parse_report(
        report(
            failed_checks=[
                item("CKV_AWS_120", "resource.api_stage_1"),
                item("CKV2_AWS_29", "aws_api_gateway_stage.api_stage_1"),
            ]
        ),
        CONFIGS,
    )
    assert {(r.check_id, r.address, r.stack) for r in parsed.failed("payments-dev")} == {
        ("CKV_AWS_120", "aws_api_gateway_stage.api_stage_1", "payments-dev"),
        ("CKV2_AWS_29", "aws_api_gateway_stage.api_stage_1", "payments-dev"),
    }


def test_passed_checks_are_kept_per_resource():
    parsed = parse_report(report(passed_checks=[item("CKV_AWS_73", "resource.api_stage_1")]), CONFIGS)
    (result,) = parsed.for_resource("payments-dev", "aws_api_gateway_stage.api_stage_1")
    assert result.passed and parsed.failed("payments-dev") == []


def test_another_checkov_version_is_refused():
    with pytest.raises(ComplianceError, match="checkov 3.4.0 found; the gate's baseline was reviewed with 3.3.30"):
        parse_report(report("3.4.0"), CONFIGS)


def test_a_report_that_scanned_nothing_is_refused():
    with pytest.raises(ComplianceError, match="nothing was scanned"):
        parse_report({"passed": 0, "failed": 0}, CONFIGS)


def test_checks_checkov_crashed_on_are_recorded_as_not_evaluated():
    stderr = "[ERROR]  Failed to run check CKV2_AWS_70 on /payments-dev/cdk.tf.json:aws_api_gateway_method.m_1\n"
    parsed = parse_report(report(), CONFIGS, stderr)
    assert parsed.not_evaluated == [("payments-dev", "CKV2_AWS_70", "aws_api_gateway_method.m_1")]


def test_missing_checkov_names_the_way_to_install_it(tmp_path, monkeypatch):
    monkeypatch.delenv("PAYMENTS_CHECKOV", raising=False)
    with pytest.raises(ComplianceError, match=r"make \.venv-checkov/\.installed"):
        locate_checkov(tmp_path)


def test_checkov_override_that_is_not_a_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYMENTS_CHECKOV", str(tmp_path / "nope"))
    with pytest.raises(ComplianceError, match="PAYMENTS_CHECKOV=.* is not a file"):
        locate_checkov(tmp_path)


def test_a_stack_checkov_could_not_parse_is_refused_naming_it():
    unparsed = report(parsing_errors=["/tmp/payments-checkov-x/payments-dev/cdk.tf.json"])
    unparsed["summary"]["parsing_errors"] = 1
    with pytest.raises(ComplianceError, match="checkov could not parse payments-dev: nothing in it was scanned"):
        parse_report(unparsed, CONFIGS)
