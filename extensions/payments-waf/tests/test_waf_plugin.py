"""The waf plugin synthesized with the platform's public testing API only: a stub stands in for the
API plugin (its REST_API key) and the messaging plugin (the alarm topic); observability renders
what the plugin registered with ctx.monitoring."""

from __future__ import annotations

import configparser
import dataclasses
import json

import pytest

from payments_platform.core import PlatformError, keys
from payments_platform.core.testing import assert_resource, make_environment, stub_provider, stub_values, synth

STUBS = {"stubs": stub_provider("stubs", [keys.REST_API, keys.NOTIFICATIONS_TOPIC])}
API = stub_values()[keys.REST_API]
TOPIC = stub_values()[keys.NOTIFICATIONS_TOPIC]
PLUGINS = ["waf", "observability"]


@pytest.fixture(scope="module")
def stack():
    return synth(PLUGINS, extra_plugins=STUBS, settings={"waf": {"rate_limit": 500, "rate_window_seconds": 60}})


@pytest.fixture(scope="module")
def counting():
    return synth(PLUGINS, extra_plugins=STUBS, settings={"waf": {"count_only": True}})


def web_acl(stack):
    (acl,) = stack.resources("aws_wafv2_web_acl").values()
    return acl


def rules(stack):
    return {rule["name"]: rule for rule in web_acl(stack)["rule"]}


def test_web_acl_is_regional_allows_by_default_and_publishes_metrics(stack):
    acl = web_acl(stack)
    assert (acl["name"], acl["scope"], acl["default_action"]) == ("payments-api-waf-test", "REGIONAL", {"allow": {}})
    assert acl["visibility_config"]["cloudwatch_metrics_enabled"] is True
    assert all(rule["visibility_config"]["cloudwatch_metrics_enabled"] for rule in acl["rule"])
    assert all(rule["visibility_config"]["sampled_requests_enabled"] for rule in acl["rule"])


def test_managed_common_and_known_bad_inputs_groups_run_after_the_rate_rule_and_enforce(stack):
    managed = {name: rule for name, rule in rules(stack).items() if "managed_rule_group_statement" in rule["statement"]}
    assert {r["statement"]["managed_rule_group_statement"]["name"] for r in managed.values()} == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    }
    assert all(r["statement"]["managed_rule_group_statement"]["vendor_name"] == "AWS" for r in managed.values())
    assert all(r["override_action"] == {"none": {}} for r in managed.values())
    assert min(r["priority"] for r in managed.values()) > rules(stack)["per-ip-rate"]["priority"] == 0


def test_rate_rule_blocks_per_ip_at_the_configured_limit_and_window(stack):
    rate = rules(stack)["per-ip-rate"]
    assert rate["action"] == {"block": {}}
    assert rate["statement"]["rate_based_statement"] == {
        "limit": 500,
        "aggregate_key_type": "IP",
        "evaluation_window_sec": 60,
    }


def test_count_only_turns_every_rule_into_count(counting):
    acl_rules = rules(counting)
    assert acl_rules["per-ip-rate"]["action"] == {"count": {}}
    assert {name: r.get("override_action") for name, r in acl_rules.items() if name != "per-ip-rate"} == {
        "aws-common": {"count": {}},
        "aws-known-bad-inputs": {"count": {}},
    }
    assert not any("block" in json.dumps(r.get("action", {})) for r in acl_rules.values())


def test_web_acl_is_associated_with_the_published_stage_arn(stack):
    (association,) = stack.resources("aws_wafv2_web_acl_association").values()
    assert association["resource_arn"] == API.stage_arn
    assert association["web_acl_arn"].startswith("${aws_wafv2_web_acl.") and association["web_acl_arn"].endswith(
        ".arn}"
    )


def test_log_group_is_named_for_waf_encrypted_with_the_platform_key_and_retained(stack):
    (log_group,) = stack.resources("aws_cloudwatch_log_group").values()
    assert log_group["name"] == "aws-waf-logs-payments-api-test"
    assert log_group["kms_key_id"].startswith("${aws_kms_key.")
    assert log_group["retention_in_days"] == 365


def test_logging_goes_to_that_log_group_with_credential_headers_redacted(stack):
    (logging,) = stack.resources("aws_wafv2_web_acl_logging_configuration").values()
    (destination,) = logging["log_destination_configs"]
    assert destination.startswith("${aws_cloudwatch_log_group.") and destination.endswith(".arn}")
    assert logging["resource_arn"].startswith("${aws_wafv2_web_acl.")
    redacted = {field["single_header"]["name"] for field in logging["redacted_fields"]}
    assert redacted == {"authorization", "x-api-key"}


def test_blocked_requests_alarm_notifies_the_topic(stack):
    assert_resource(
        stack,
        "aws_cloudwatch_metric_alarm",
        {
            "namespace": "AWS/WAFV2",
            "metric_name": "BlockedRequests",
            "statistic": "Sum",
            "dimensions": {"WebACL": "payments-api-waf-test", "Region": "us-east-1", "Rule": "ALL"},
            "alarm_actions": [TOPIC.arn],
            "ok_actions": [TOPIC.arn],
            "period": 300,
            "threshold": 100,
        },
    )


def test_dashboard_graphs_the_web_acl_and_each_rule(stack):
    (dashboard,) = stack.resources("aws_cloudwatch_dashboard").values()
    metrics = [
        m for w in json.loads(dashboard["dashboard_body"])["widgets"] for m in w["properties"].get("metrics", [])
    ]
    waf = [m for m in metrics if m[0] == "AWS/WAFV2"]
    assert {m[1] for m in waf} == {"AllowedRequests", "BlockedRequests", "CountedRequests"}
    assert {"per-ip-rate", "aws-common", "aws-known-bad-inputs", "ALL"} <= {m[m.index("Rule") + 1] for m in waf}


def test_on_an_emulator_the_provider_sends_wafv2_there(tmp_path):
    """The provider reaches an emulator through the AWS SDK profile the stack carries (its file
    beside cdk.tf.json): wafv2, the service this plugin declares, goes to the emulator's URL."""
    from payments_platform.core.host.synth import synthesize

    env = dataclasses.replace(make_environment(["waf", "stubs"]), aws_endpoint="http://127.0.0.1:4566")
    synthesize([env], tmp_path / "out", extra_plugins=STUBS)
    (stack_dir,) = (tmp_path / "out" / "stacks").iterdir()
    (provider,) = json.loads((stack_dir / "cdk.tf.json").read_text())["provider"]["aws"]
    (config_file,) = provider["shared_config_files"]
    profile = configparser.ConfigParser()
    profile.read_string((stack_dir / config_file).read_text())
    assert profile[f"services {provider['profile']}"]["wafv2"].split("=")[1].strip() == "http://127.0.0.1:4566"


@pytest.mark.parametrize(
    "setting, value, message",
    [
        ("rate_limit", 5, "greater than or equal to 10"),
        ("rate_window_seconds", 30, "60, 120, 300 or 600"),
        ("log_retention_days", 42, "not a CloudWatch Logs retention period"),
        ("blocked_alarm_threshold", 0, "greater than or equal to 1"),
        ("count_only", "yes", "valid boolean"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(setting, value, message):
    with pytest.raises(PlatformError, match=rf"plugin 'waf', setting '{setting}': .*{message}"):
        synth(["waf"], extra_plugins=STUBS, settings={"waf": {setting: value}}, cache=False)
