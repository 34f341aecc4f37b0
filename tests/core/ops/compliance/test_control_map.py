"""The PCI DSS control map: evidence registered through ctx.compliance, read from the synth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.cdktf_adapter import aws
from payments_platform.core.errors import RegistrationError
from payments_platform.core.ops.compliance.baseline import Baseline, BaselineEntry
from payments_platform.core.ops.compliance.checkov import CheckovReport, CheckResult
from payments_platform.core.ops.compliance.control_map import (
    EVIDENCED,
    INCOMPLETE,
    MISSING,
    build_control_map,
    render_json,
    render_markdown,
)
from payments_platform.core.ops.compliance.gate import control_map
from payments_platform.core.pci_requirements import requirement_ids
from payments_platform.core.testing import synth

from cli_runner import run_cli

REPO = Path(__file__).resolve().parents[4]
COMPLIANCE_DOC = REPO / "docs" / "COMPLIANCE.md"
STACK = "payments-test"


class ArchivePlugin:
    """A third-party plugin: a log group kept 400 days, registered as 10.5.1 evidence."""

    def __init__(self, requirement: str = "10.5.1", expect_days: int = 400, resource: str = "log_group") -> None:
        self.requirement, self.expect_days, self.resource = requirement, expect_days, resource

    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name="archive", description="test: a long-lived audit log group")

    @hookimpl
    def payments_resources(self, ctx):
        group = aws.cloudwatch_log_group.CloudwatchLogGroup(
            ctx.scope,
            "audit_history",
            name=ctx.naming.name("audit-history"),
            retention_in_days=400,
            kms_key_id=ctx[keys.KMS_KEY].arn,
        )
        target = group if self.resource == "log_group" else ctx.scope
        ctx.compliance.evidence(
            self.requirement,
            target,
            expect={"retention_in_days": self.expect_days},
            attributes=("kms_key_id",),
            note="audit events stay 400 days, encrypted under the platform CMK",
        )


def archive_map(plugin: ArchivePlugin, *, failed: tuple[str, ...] = (), baseline: Baseline | None = None):
    stack = synth([], extra_plugins={"archive": plugin})
    (address,) = [f"aws_cloudwatch_log_group.{lid}" for lid in stack.resources("aws_cloudwatch_log_group")]
    results = [CheckResult(STACK, check, "retention", address, passed=False) for check in failed]
    report = CheckovReport("3.3.30", [*results, CheckResult(STACK, "CKV_AWS_158", "kms", address, passed=True)])
    built = build_control_map(
        "test", STACK, stack.config, stack.built.build.controls, report, baseline or Baseline([], Path("b.toml"))
    )
    return built, address


def row(control_map_, requirement: str):
    (found,) = [r for r in control_map_.controls if r.requirement == requirement]
    return found


def test_third_party_plugin_evidence_appears_with_values_from_the_synth():
    built, address = archive_map(ArchivePlugin())
    control = row(built, "10.5.1")
    assert control.status == EVIDENCED
    (evidence,) = control.evidence
    assert (evidence.plugin, evidence.address, evidence.values["retention_in_days"]) == ("archive", address, 400)
    assert evidence.values["kms_key_id"].startswith("${aws_kms_key.")
    assert evidence.checks_passed == 1


def test_evidence_whose_value_does_not_hold_flags_the_requirement():
    built, _ = archive_map(ArchivePlugin(expect_days=365 * 7))
    control = row(built, "10.5.1")
    assert control.status == INCOMPLETE
    assert control.evidence[0].problems == ["retention_in_days is 400, expected 2555"]


def test_every_requirement_is_listed_and_one_without_evidence_is_flagged_not_omitted():
    built, _ = archive_map(ArchivePlugin())
    assert [r.requirement for r in built.controls] == requirement_ids()
    assert row(built, "6.4.2").status == MISSING
    assert "## 6.4.2" in render_markdown(built) and "**NO EVIDENCE**" in render_markdown(built)


def test_checkov_failure_outside_the_baseline_flags_the_evidence():
    built, _ = archive_map(ArchivePlugin(), failed=("CKV_AWS_338",))
    control = row(built, "10.5.1")
    assert control.status == INCOMPLETE
    assert control.evidence[0].problems == ["checkov CKV_AWS_338 fails outside the baseline"]


def test_baselined_checkov_failure_carries_its_reason():
    _, address = archive_map(ArchivePlugin())
    entry = BaselineEntry(
        1, "CKV_AWS_338", (address,), ("test",), "kept 400 days, not 365 multiples", "issue 9", ("10.5.1",)
    )
    built, _ = archive_map(ArchivePlugin(), failed=("CKV_AWS_338",), baseline=Baseline([entry], Path("b.toml")))
    control = row(built, "10.5.1")
    assert control.status == EVIDENCED
    assert control.evidence[0].checks_failed[0].baseline_reason == "kept 400 days, not 365 multiples"
    assert control.baseline[0]["check"] == "CKV_AWS_338"


def test_evidence_for_an_unknown_requirement_fails_naming_the_plugin():
    with pytest.raises(RegistrationError) as excinfo:
        synth([], extra_plugins={"archive": ArchivePlugin(requirement="10.5.9")}, cache=False)
    assert str(excinfo.value) == "plugin 'archive' registered evidence for unknown PCI DSS v4.0 requirement '10.5.9'"


def test_evidence_on_something_that_is_not_a_resource_fails_naming_the_plugin():
    with pytest.raises(
        RegistrationError,
        match="plugin 'archive' registered evidence for requirement 10.5.1 on .*not a Terraform resource",
    ):
        synth([], extra_plugins={"archive": ArchivePlugin(resource="scope")}, cache=False)


def test_json_format_lists_every_requirement_with_its_status():
    built, _ = archive_map(ArchivePlugin())
    document = json.loads(render_json(built))
    assert [c["requirement"] for c in document["controls"]] == requirement_ids()
    statuses = {c["requirement"]: c["status"] for c in document["controls"]}
    assert statuses["10.5.1"] == EVIDENCED and statuses["6.4.2"] == MISSING
    assert document["summary"][MISSING] == list(statuses.values()).count(MISSING)


@pytest.fixture(scope="module")
def prod_map(platform_config, checkov_scan):
    return control_map(platform_config, platform_config.environment("prod"), checkov_scan)


def test_prod_evidence_all_holds(prod_map):
    incomplete = {
        r.requirement: [p for e in r.evidence for p in e.problems] for r in prod_map.controls if r.status == INCOMPLETE
    }
    assert not incomplete


def test_every_prod_requirement_without_evidence_has_a_reviewed_reason(prod_map):
    unexplained = [r.requirement for r in prod_map.controls if r.status == MISSING and not r.baseline]
    assert not unexplained, f"flagged without a baseline entry filed under them (pci = [...]): {unexplained}"


def test_compliance_doc_is_generated_from_the_current_prod_synth(prod_map):
    assert COMPLIANCE_DOC.read_text() == render_markdown(prod_map), (
        "docs/COMPLIANCE.md is stale: run `make compliance-docs` and review the diff"
    )


def test_control_map_for_two_environments_is_refused_in_one_line():
    result = run_cli("compliance", "--env", "dev", "--env", "prod")
    err = result.stderr
    assert result.returncode == 2
    assert err.count("\n") == 1 and "name exactly one with --env" in err


def test_update_baseline_without_the_gate_is_refused_in_one_line():
    result = run_cli("compliance", "--env", "dev", "--update-baseline")
    assert result.returncode == 2
    assert "--update-baseline goes with --gate" in result.stderr


def test_every_enabled_plugin_and_the_core_contribute_prod_evidence(prod_map, platform_config):
    plugins = {e.plugin for r in prod_map.controls for e in r.evidence}
    assert plugins == {"core", *platform_config.environment("prod").plugins}


def test_local_map_flags_code_signing_missing_with_the_emulator_reason(platform_config, checkov_scan):
    local = control_map(platform_config, platform_config.environment("local"), checkov_scan)
    control = row(local, "6.5.1")
    assert control.status == MISSING
    # The platform's entry and each enabled distribution's own (the acquirer simulator's function).
    assert {b["check"] for b in control.baseline} == {"CKV_AWS_272"}
