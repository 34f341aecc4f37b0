"""The whole platform: every plugin together, per environment, and real `terraform validate`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from payments_platform.core.errors import RequirementError
from payments_platform.core.host import policy
from payments_platform.core.host.config import load_config
from payments_platform.core.host.synth import synthesize
from payments_platform.core.ops import capacity_table
from payments_platform.core.ops.terraform import Terraform
from payments_platform.core.testing import synth

REPO = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(__file__).parent / "snapshots"
CAPACITY_DOC = REPO / "docs" / "CAPACITY.md"
ALL = ["api", "audit", "messaging", "network", "observability", "storage"]


@pytest.fixture(scope="session")
def config():
    return load_config(REPO / "environments.toml")


@pytest.fixture(scope="session")
def every_synth(config, tmp_path_factory):
    """Every environment of environments.toml, synthesized once for the session."""
    return synthesize(config.select(sorted(config.environments)), tmp_path_factory.mktemp("all") / "cdktf.out")


def _plugin_of(body: dict) -> str:
    return body["//"]["metadata"]["path"].split("/")[1]


def _addresses(config: dict) -> dict[str, str]:
    return {
        f"{rtype}.{logical_id}": _plugin_of(body)
        for rtype, items in config.get("resource", {}).items()
        for logical_id, body in items.items()
    }


def test_dev_stack_contains_every_plugins_resources(every_synth):
    plugins = set(_addresses(every_synth.configs["payments-dev"]).values())
    assert plugins == {"platform", *ALL, "acquirer-simulator"}


def test_prod_has_no_payment_connector_and_is_intake_only(every_synth):
    """Prod enables no connector: its processor gets no connector name, no invoke grant, and the
    network no Lambda endpoint (the snapshot pins the rest unchanged)."""
    config = every_synth.configs["payments-prod"]
    assert "acquirer-simulator" not in set(_addresses(config).values())
    processor = next(
        f
        for f in config["resource"]["aws_lambda_function"].values()
        if f["function_name"] == "transaction-processor-prod"
    )
    assert "CONNECTOR_FUNCTION_NAME" not in processor["environment"]["variables"]
    assert not any("lambda_interface_endpoint" in name for name in config["resource"]["aws_vpc_endpoint"])
    prod = next(b for b in every_synth.built if b.name == "payments-prod")
    assert [text for plugin, text in prod.build.notes if plugin == "api"] == [
        "intake only: no payment connector is enabled; transactions stay 'received'"
    ]


def test_disabling_a_plugin_removes_exactly_its_resources():
    full = _addresses(synth(ALL).config)
    without = _addresses(synth([p for p in ALL if p != "observability"]).config)
    assert set(full) - set(without) == {a for a, p in full.items() if p == "observability"}
    assert set(without) <= set(full)


def test_disabling_the_audit_plugin_removes_its_resources_and_their_alarms_only():
    full = _addresses(synth(ALL).config)
    without = _addresses(synth([p for p in ALL if p != "audit"]).config)
    removed = set(full) - set(without)
    assert removed >= {a for a, p in full.items() if p == "audit"} and set(without) <= set(full)
    assert {a for a in removed if full[a] != "audit"} == {
        a for a in full if a.startswith("aws_cloudwatch_metric_alarm.observability_alarm_audit_archiver_")
    }


def test_disabling_a_required_plugin_fails_with_the_provider_named():
    with pytest.raises(RequirementError, match="provided by plugin 'storage', which is disabled in environment 'test'"):
        synth([p for p in ALL if p != "storage"], cache=False)


@pytest.mark.parametrize("stack", ["payments-dev", "payments-prod"])
def test_snapshot_matches(every_synth, stack):
    """Review snapshot diffs deliberately; refresh with UPDATE_SNAPSHOTS=1. dev is the default
    environment; prod is the one with every plugin, the WAF extension included."""
    current = json.dumps(every_synth.configs[stack], indent=1, sort_keys=True) + "\n"
    snapshot = SNAPSHOTS / f"{stack}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(current)
    # A missing snapshot is a failure, not a fresh baseline: otherwise a deleted file passes.
    assert snapshot.exists(), f"no snapshot {snapshot.name}: write it with UPDATE_SNAPSHOTS=1, then review it"
    assert current == snapshot.read_text(), "synth changed: review, then refresh with UPDATE_SNAPSHOTS=1"


def test_every_environment_synthesizes(every_synth):
    assert sorted(every_synth.stacks) == ["payments-dev", "payments-local", "payments-prod", "payments-staging"]


def test_prod_stage_throttles_at_the_seeds_10000_rps_burst_5000(every_synth):
    resources = policy.iter_resources(every_synth.configs["payments-prod"])
    stage = policy.stage_throttle(resources)
    assert (stage.rate, stage.burst) == (10000.0, 5000)


def test_no_prod_method_is_throttled_below_the_capacity_its_function_is_sized_for(every_synth):
    capacities = policy.method_capacities(policy.iter_resources(every_synth.configs["payments-prod"]))
    assert {c.route for c in capacities} == {"POST /transactions", "GET /status"}
    for c in capacities:
        # Sized for the seed's peak: the capacity (N ÷ planned p99) is at least 10,000 rps, and the method
        # admits all of it, bursts of its N.
        assert c.planned_p99_ms is not None and c.served_rate >= 10000, c.describe()
        assert c.method_throttle.rate >= c.served_rate and c.method_throttle.burst == c.reserved_concurrency
        assert c.admitted_rate >= 10000, c.describe()


def test_prod_says_in_one_line_which_lambda_quota_it_needs(every_synth):
    (line,) = [w for w in every_synth.warnings["payments-prod"] if "quota" in w]
    needed = policy.concurrency_quota_needed(policy.iter_resources(every_synth.configs["payments-prod"]))
    assert needed > policy.LAMBDA_DEFAULT_CONCURRENCY_QUOTA
    assert f"'Lambda concurrent executions' quota of {needed:,}" in line and "L-B99A9384" in line
    assert every_synth.warnings["payments-prod"] == [line]  # and nothing else is incoherent in prod


def test_the_capacity_table_in_docs_is_generated_from_the_current_synth(config, every_synth):
    environments = config.select(sorted(config.environments))
    current = capacity_table.render_markdown(
        [(env.name, env.description, every_synth.configs[env.stack_name]) for env in environments]
    )
    assert CAPACITY_DOC.read_text() == current, (
        "docs/CAPACITY.md is stale: run `make capacity-docs` and review the diff"
    )


@pytest.mark.parametrize("stack", ["payments-staging", "payments-prod"])
def test_waf_is_enabled_and_its_association_is_ordered_after_the_api_stage(every_synth, stack):
    # A reference to the stage resource is what makes Terraform create the association after it;
    # a literal ARN would let a first apply race the stage.
    (association,) = every_synth.configs[stack]["resource"]["aws_wafv2_web_acl_association"].values()
    assert re.fullmatch(r"\$\{aws_api_gateway_stage\.[A-Za-z0-9_]+\.arn\}", association["resource_arn"])


@pytest.mark.parametrize("stack", ["payments-dev", "payments-local"])
def test_waf_stays_off_where_it_is_not_enabled(every_synth, stack):
    assert "aws_wafv2_web_acl" not in every_synth.configs[stack]["resource"]


@pytest.mark.terraform
@pytest.mark.parametrize("stack", ["payments-dev", "payments-prod"])
def test_terraform_validate_accepts_the_full_synth(every_synth, stack):
    try:
        terraform = Terraform.locate(every_synth.outdir)
    except Exception as exc:  # no terraform binary on this machine
        pytest.skip(str(exc))
    if terraform.mirror is None and not os.environ.get("PAYMENTS_TF_ALLOW_REGISTRY"):
        pytest.skip("no provider mirror found and registry access not allowed (set PAYMENTS_TF_ALLOW_REGISTRY=1)")
    stack_dir = every_synth.stacks[stack]
    terraform.init(stack_dir)
    report = terraform.validate(stack_dir)
    assert report["valid"] is True and report["error_count"] == 0
