"""The observability plugin in a synthesized stack, observing an in-process fake application.

Two synth configurations: ``watched`` (messaging-like topic, region us-east-1) and
``quiet`` (no topic, renamed function, no configured region).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.testing import assert_resource, stub_values, synth

TOPIC = stub_values()[keys.NOTIFICATIONS_TOPIC]


class FakeApp:
    """Registers one of each monitored kind, like the api/storage/messaging plugins would."""

    def __init__(self, function_key: str, *, with_topic: bool) -> None:
        self.function_key = function_key
        self.with_topic = with_topic

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="fakeapp",
            description="test application registering resources for observability",
            provides=(keys.NOTIFICATIONS_TOPIC,) if self.with_topic else (),
        )

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        suffix = ctx.naming.suffix
        ctx.monitoring.function(
            self.function_key,
            function_name=f"{self.function_key}-{suffix}",
            log_group_name=f"/aws/lambda/{self.function_key}-{suffix}",
        )
        ctx.monitoring.table("transactions", table_name=f"payment-transactions-{suffix}")
        ctx.monitoring.api("payments-api", api_name=f"payments-api-{suffix}", stage_name="prod")
        ctx.monitoring.queue("audit", queue_name=f"transaction-queue-{suffix}.fifo")
        if self.with_topic:
            ctx[keys.NOTIFICATIONS_TOPIC] = TOPIC


# Module-level instances: synth caches per plugin object, so each configuration builds once.
WATCHED_APP = FakeApp("transaction-processor", with_topic=True)
QUIET_APP = FakeApp("settlement-worker", with_topic=False)


@pytest.fixture(scope="module")
def watched():
    return synth(["observability"], extra_plugins={"fakeapp": WATCHED_APP})


@pytest.fixture(scope="module")
def quiet():
    return synth(["observability"], extra_plugins={"fakeapp": QUIET_APP}, region=None)


def dashboard_body(stack) -> dict[str, Any]:
    (dashboard,) = stack.resources("aws_cloudwatch_dashboard").values()
    return json.loads(dashboard["dashboard_body"])


def dimension_values(body: dict[str, Any]) -> set[str]:
    values = set()
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            plain = [v for v in row[2:] if isinstance(v, str)]
            values.update(plain[1::2])
    return values


def alarms(stack) -> dict[str, dict[str, Any]]:
    return {body["alarm_name"]: body for body in stack.resources("aws_cloudwatch_metric_alarm").values()}


# -- dashboard ---------------------------------------------------------------------------


def test_dashboard_is_named_payments_with_the_suffix(watched):
    assert_resource(watched, "aws_cloudwatch_dashboard", {"dashboard_name": "payments-test"})


def test_dashboard_shows_every_registered_function_table_api_and_queue(watched):
    assert {
        "transaction-processor-test",
        "payment-transactions-test",
        "payments-api-test",
        "transaction-queue-test.fifo",
    } <= dimension_values(dashboard_body(watched))


def test_dashboard_widgets_use_the_configured_region(watched):
    assert {w["properties"]["region"] for w in dashboard_body(watched)["widgets"]} == {"us-east-1"}


def test_dashboard_widgets_fall_back_to_eu_central_1_without_a_region(quiet):
    assert {w["properties"]["region"] for w in dashboard_body(quiet)["widgets"]} == {"eu-central-1"}


def test_dashboard_follows_a_renamed_function(quiet):
    (dashboard,) = quiet.resources("aws_cloudwatch_dashboard").values()
    assert "settlement-worker-test" in dimension_values(json.loads(dashboard["dashboard_body"]))
    assert "transaction-processor" not in dashboard["dashboard_body"]


def test_dashboard_name_is_an_output(watched):
    assert watched.outputs()["dashboard_name"]["value"] == "payments-test"


# -- alarms ------------------------------------------------------------------------------


def test_function_errors_alarm_fires_on_one_error_and_notifies_the_topic(watched):
    assert_resource(
        watched,
        "aws_cloudwatch_metric_alarm",
        {
            "alarm_name": "transaction-processor-errors-test",
            "namespace": "AWS/Lambda",
            "metric_name": "Errors",
            "dimensions": {"FunctionName": "transaction-processor-test"},
            "statistic": "Sum",
            "period": 60,
            "evaluation_periods": 1,
            "threshold": 1,
            "comparison_operator": "GreaterThanOrEqualToThreshold",
            "treat_missing_data": "notBreaching",
            "alarm_actions": [TOPIC.arn],
            "ok_actions": [TOPIC.arn],
        },
    )


def test_function_throttles_and_api_5xx_alarms_notify_the_topic(watched):
    by_name = alarms(watched)
    for name in ("transaction-processor-throttles-test", "payments-api-5xx-errors-test"):
        assert by_name[name]["threshold"] == 1
        assert by_name[name]["comparison_operator"] == "GreaterThanOrEqualToThreshold"
        assert by_name[name]["alarm_actions"] == [TOPIC.arn]
    assert by_name["payments-api-5xx-errors-test"]["dimensions"] == {"ApiName": "payments-api-test", "Stage": "prod"}


def test_every_alarm_has_a_description(watched):
    assert all(len(body.get("alarm_description", "")) > 40 for body in alarms(watched).values())


def test_without_a_topic_alarms_exist_but_have_no_actions(quiet):
    by_name = alarms(quiet)
    assert set(by_name) == {
        "settlement-worker-errors-test",
        "settlement-worker-throttles-test",
        "payments-api-5xx-errors-test",
    }
    for body in by_name.values():
        assert "alarm_actions" not in body and "ok_actions" not in body


def test_observability_creates_no_log_groups(watched):
    paths = [b["//"]["metadata"]["path"] for b in watched.resources("aws_cloudwatch_log_group").values()]
    assert not [p for p in paths if "/observability/" in p]
