"""ctx.monitoring.metric_widget / alarm: a registration CloudWatch would refuse fails at once,
naming the plugin, not at apply time."""

from __future__ import annotations

import pytest

from payments_platform.core import Metric, RegistrationError
from payments_platform.core.context import _PluginMonitoring
from payments_platform.core.monitoring import MonitoringRegistry

BLOCKED = Metric("AWS/WAFV2", "BlockedRequests", {"WebACL": "edge", "Rule": "ALL"})


def monitoring(plugin: str = "firewall", registry: MonitoringRegistry | None = None) -> _PluginMonitoring:
    return _PluginMonitoring(registry or MonitoringRegistry(), plugin)


def alarm(facade: _PluginMonitoring, key: str = "waf-blocked", **overrides):
    arguments = {
        "metric": BLOCKED,
        "threshold": 1,
        "description": "blocked requests: look at the WAF logs",
        **overrides,
    }
    return facade.alarm(key, **arguments)


def test_metric_is_frozen_and_exported_from_core():
    with pytest.raises(AttributeError):
        BLOCKED.name = "AllowedRequests"  # type: ignore[misc]
    with pytest.raises(TypeError):
        BLOCKED.dimensions["Rule"] = "other"  # type: ignore[index]


def test_registrations_are_listed_by_key_with_their_plugin():
    facade = monitoring()
    facade.metric_widget("b-requests", title="B", metrics=[BLOCKED])
    facade.metric_widget("a-requests", title="A", metrics=[BLOCKED], period_seconds=300)
    alarm(facade)
    assert [(w.key, w.period_seconds, w.plugin) for w in facade.metric_widgets] == [
        ("a-requests", 300, "firewall"),
        ("b-requests", 60, "firewall"),
    ]
    (registered,) = facade.alarms
    assert (registered.key, registered.threshold, registered.comparison, registered.treat_missing_data) == (
        "waf-blocked",
        1.0,
        "GreaterThanOrEqualToThreshold",
        "notBreaching",
    )


def test_alarm_key_registered_by_two_plugins_is_refused_naming_both():
    registry = MonitoringRegistry()
    alarm(monitoring("firewall", registry))
    with pytest.raises(
        RegistrationError,
        match="plugin 'fraud' registered alarm 'waf-blocked', already registered by plugin 'firewall'",
    ):
        alarm(monitoring("fraud", registry))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"comparison": "GreaterThan"}, "comparison 'GreaterThan' is not one of"),
        ({"treat_missing_data": "NotBreaching"}, "treat_missing_data 'NotBreaching' is not one of"),
        ({"period_seconds": 90}, "period_seconds 90 must be 10, 30 or a multiple of 60"),
        ({"evaluation_periods": 0}, "evaluation_periods 0 must be a positive integer"),
        ({"threshold": "5"}, "threshold '5' is not a number"),
        ({"description": ""}, "an alarm needs a description"),
        ({"metric": Metric("AWS/WAFV2", "BlockedRequests", {}, stat="median")}, "statistic 'median' is not one of"),
        ({"metric": Metric("", "BlockedRequests", {})}, "a metric needs a namespace and a name"),
        ({"metric": ("AWS/WAFV2", "BlockedRequests")}, r"\(.AWS/WAFV2., .BlockedRequests.\) is not a Metric"),
    ],
    ids=[
        "comparison",
        "missing-data",
        "period",
        "evaluation-periods",
        "threshold",
        "description",
        "statistic",
        "namespace",
        "not-a-metric",
    ],
)
def test_alarm_cloudwatch_would_refuse_is_refused_naming_the_plugin(overrides, message):
    with pytest.raises(RegistrationError, match=f"plugin 'firewall' alarm 'waf-blocked': {message}"):
        alarm(monitoring(), **overrides)


@pytest.mark.parametrize("key", ["WAF", "waf_blocked", "waf-", ""])
def test_alarm_key_that_cannot_be_a_resource_name_is_refused(key):
    with pytest.raises(RegistrationError, match="lowercase letters, digits and hyphens"):
        alarm(monitoring(), key)


@pytest.mark.parametrize(
    ("metrics", "message"), [([], "non-empty sequence of Metric"), (BLOCKED, "non-empty sequence of Metric")]
)
def test_metric_widget_without_a_list_of_metrics_is_refused(metrics, message):
    with pytest.raises(RegistrationError, match=message):
        monitoring().metric_widget("waf", title="WAF", metrics=metrics)


def test_percentile_statistic_is_accepted():
    facade = monitoring()
    widget = facade.metric_widget("latency", title="p99", metrics=[Metric("Fraud", "Latency", {}, stat="p99.9")])
    assert widget.metrics[0].is_extended_statistic


def test_alarm_moved_from_is_kept_for_the_renderer():
    registered = alarm(monitoring(), moved_from="aws_cloudwatch_metric_alarm.firewall_alarm_waf_blocked_1A2B3C4D")
    assert registered.moved_from == "aws_cloudwatch_metric_alarm.firewall_alarm_waf_blocked_1A2B3C4D"


@pytest.mark.parametrize(
    "address",
    [
        "firewall_alarm_waf_blocked",
        "aws_sns_topic.alerts",
        "aws_cloudwatch_metric_alarm.a b",
        "module.x.aws_cloudwatch_metric_alarm.a",
    ],
)
def test_alarm_moved_from_that_is_not_an_alarm_address_is_refused(address):
    with pytest.raises(RegistrationError, match="plugin 'firewall' alarm 'waf-blocked': moved_from"):
        alarm(monitoring(), moved_from=address)
