"""Another plugin's ``ctx.monitoring.metric_widget`` / ``ctx.monitoring.alarm`` registrations,
as the observability plugin renders them in a synthesized stack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from payments_platform.core import Metric, PluginDeclaration, RegistrationError, hookimpl, keys
from payments_platform.core.monitoring import MetricAlarm
from payments_platform.core.testing import assert_resource, stub_values, synth
from payments_platform.plugins.observability.alarms import alarm_specs

TOPIC = stub_values()[keys.NOTIFICATIONS_TOPIC]
BLOCKED = Metric("AWS/WAFV2", "BlockedRequests", {"WebACL": "edge-test", "Rule": "ALL"}, label="blocked")
ALLOWED = Metric("AWS/WAFV2", "AllowedRequests", {"WebACL": "edge-test", "Rule": "ALL"})
LATENCY = Metric("Fraud/Scoring", "ScoreLatency", {"Model": "v3"}, stat="p99")


class Firewall:
    """A third-party plugin registering its own metrics; it also provides the topic."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="firewall", description="registers WAF-like metrics", provides=(keys.NOTIFICATIONS_TOPIC,)
        )

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        ctx[keys.NOTIFICATIONS_TOPIC] = TOPIC
        ctx.monitoring.metric_widget(
            "waf-requests", title="WAF: requests", metrics=[ALLOWED, BLOCKED], period_seconds=300
        )
        ctx.monitoring.metric_widget("fraud-latency", title="Fraud scoring: latency", metrics=[LATENCY])
        ctx.monitoring.alarm(
            "waf-blocked-requests",
            metric=BLOCKED,
            threshold=100,
            description="The WAF blocked 100 requests in 5 minutes: an attack, or a rule blocking real clients.",
            period_seconds=300,
            evaluation_periods=2,
            treat_missing_data="missing",
        )
        ctx.monitoring.alarm(
            "fraud-slow-scoring",
            metric=LATENCY,
            threshold=250.5,
            comparison="GreaterThanThreshold",
            description="Fraud scoring p99 latency is above 250 ms: payments are slowing down.",
        )


FIREWALL = Firewall()


@pytest.fixture(scope="module")
def stack():
    return synth(["observability"], extra_plugins={"firewall": FIREWALL})


def widgets_by_title(stack) -> dict[str, dict[str, Any]]:
    (dashboard,) = stack.resources("aws_cloudwatch_dashboard").values()
    return {w["properties"]["title"]: w for w in json.loads(dashboard["dashboard_body"])["widgets"]}


def test_each_metric_widget_registration_is_one_dashboard_graph(stack):
    assert set(widgets_by_title(stack)) == {"WAF: requests", "Fraud scoring: latency"}


def test_metric_widget_graphs_each_metric_with_its_dimensions_stat_and_label(stack):
    properties = widgets_by_title(stack)["WAF: requests"]["properties"]
    assert properties["metrics"] == [
        ["AWS/WAFV2", "AllowedRequests", "WebACL", "edge-test", "Rule", "ALL", {"stat": "Sum"}],
        ["AWS/WAFV2", "BlockedRequests", "WebACL", "edge-test", "Rule", "ALL", {"stat": "Sum", "label": "blocked"}],
    ]
    assert (properties["period"], properties["region"], properties["view"]) == (300, "us-east-1", "timeSeries")


def test_metric_widget_period_defaults_to_one_minute(stack):
    assert widgets_by_title(stack)["Fraud scoring: latency"]["properties"]["period"] == 60


def test_registered_alarm_is_named_with_the_suffix_and_notifies_the_topic(stack):
    assert_resource(
        stack,
        "aws_cloudwatch_metric_alarm",
        {
            "alarm_name": "waf-blocked-requests-test",
            "namespace": "AWS/WAFV2",
            "metric_name": "BlockedRequests",
            "dimensions": {"WebACL": "edge-test", "Rule": "ALL"},
            "statistic": "Sum",
            "period": 300,
            "evaluation_periods": 2,
            "threshold": 100,
            "comparison_operator": "GreaterThanOrEqualToThreshold",
            "treat_missing_data": "missing",
            "alarm_actions": [TOPIC.arn],
            "ok_actions": [TOPIC.arn],
        },
    )


def test_registered_alarm_on_a_percentile_uses_extended_statistic(stack):
    alarm = stack.one("aws_cloudwatch_metric_alarm", alarm_name="fraud-slow-scoring-test")
    assert (alarm["extended_statistic"], alarm.get("statistic")) == ("p99", None)
    assert (alarm["threshold"], alarm["comparison_operator"]) == (250.5, "GreaterThanThreshold")


def test_registered_alarm_is_incident_response_evidence(stack):
    notes = [e.note for e in stack.built.build.controls.for_requirement("12.10.1")]
    assert any(note.startswith("waf-blocked-requests:") for note in notes)


def test_registered_alarm_whose_name_a_built_in_alarm_takes_is_refused():
    from payments_platform.core.monitoring import MonitoredApi

    api = MonitoredApi("payments", "payments-api-dev", "prod", "api")
    clash = MetricAlarm(
        "payments-5xx-errors",
        BLOCKED,
        1.0,
        "clashes with the API's alarm",
        "GreaterThanOrEqualToThreshold",
        60,
        1,
        "notBreaching",
        "firewall",
    )
    with pytest.raises(RegistrationError, match="'api'.*'firewall'"):
        alarm_specs(apis=[api], registered=[clash])
