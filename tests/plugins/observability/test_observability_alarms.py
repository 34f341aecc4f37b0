"""Alarm specs and settings, without synthesizing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from payments_platform.core import RegistrationError
from payments_platform.core.monitoring import MonitoredApi, MonitoredFunction, MonitoredQueue
from payments_platform.plugins.observability.alarms import alarm_specs
from payments_platform.plugins.observability.settings import ObservabilitySettings

PROCESSOR = MonitoredFunction(
    "transaction-processor", "transaction-processor-dev", "/aws/lambda/transaction-processor-dev", "api"
)
API = MonitoredApi("payments-api", "payments-api-dev", "prod", "api")


def by_name(**kwargs):
    return {spec.base_name: spec for spec in alarm_specs(**kwargs)}


def test_one_errors_and_one_throttles_alarm_per_function_and_a_5xx_alarm_per_api():
    assert set(by_name(functions=[PROCESSOR], apis=[API])) == {
        "transaction-processor-errors",
        "transaction-processor-throttles",
        "payments-api-5xx-errors",
    }


def test_error_threshold_applies_to_function_errors_and_api_5xx_but_not_throttles():
    specs = by_name(functions=[PROCESSOR], apis=[API], error_threshold=3)
    assert specs["transaction-processor-errors"].threshold == 3
    assert specs["payments-api-5xx-errors"].threshold == 3
    assert specs["transaction-processor-throttles"].threshold == 1


def test_api_alarm_watches_api_name_and_stage():
    spec = by_name(apis=[API])["payments-api-5xx-errors"]
    assert (spec.namespace, spec.metric_name, dict(spec.dimensions)) == (
        "AWS/ApiGateway",
        "5XXError",
        {"ApiName": "payments-api-dev", "Stage": "prod"},
    )


def test_error_alarm_description_points_at_the_function_log_group():
    spec = by_name(functions=[PROCESSOR])["transaction-processor-errors"]
    assert PROCESSOR.log_group_name in spec.description


def test_a_dead_letter_queue_alarms_on_its_first_visible_message():
    dlq = MonitoredQueue(
        "audit-dlq", "audit-archive-dlq-dev.fifo", "audit", dead_letter_for="transaction-queue-dev.fifo"
    )
    spec = by_name(queues=[dlq])["audit-dlq-messages"]
    assert (spec.namespace, spec.metric_name, spec.threshold) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible", 1)
    assert spec.dimensions == {"QueueName": "audit-archive-dlq-dev.fifo"}
    assert "transaction-queue-dev.fifo" in spec.description and "redrive" in spec.description


def test_an_ordinary_queue_gets_no_alarm():
    assert by_name(queues=[MonitoredQueue("audit", "transaction-queue-dev.fifo", "messaging")]) == {}


def test_period_is_passed_through():
    assert {s.period for s in alarm_specs(functions=[PROCESSOR], apis=[API], period=300)} == {300}


def test_construct_ids_come_from_keys_not_physical_names():
    spec = by_name(functions=[PROCESSOR])["transaction-processor-errors"]
    assert spec.construct_id == "alarm_transaction_processor_errors"


def test_two_resources_wanting_the_same_alarm_name_is_an_error_naming_both_plugins():
    clash = MonitoredFunction("payments-api-5xx", "x-dev", "/aws/lambda/x-dev", "thirdparty")
    with pytest.raises(RegistrationError, match="'api'.*'thirdparty'|'thirdparty'.*'api'"):
        alarm_specs(functions=[clash], apis=[API])


def test_settings_defaults():
    settings = ObservabilitySettings()
    assert (settings.error_threshold, settings.alarm_period_seconds) == (1, 60)


@pytest.mark.parametrize(
    "values", [{"error_threshold": 0}, {"alarm_period_seconds": 90}, {"alarm_period_seconds": 0}, {"colour": "red"}]
)
def test_settings_reject_invalid_values(values):
    with pytest.raises(ValidationError):
        ObservabilitySettings(**values)
