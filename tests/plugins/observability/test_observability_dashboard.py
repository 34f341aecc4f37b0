"""The dashboard body builder, without synthesizing."""

from __future__ import annotations

import json

import pytest

from payments_platform.core.monitoring import MonitoredApi, MonitoredFunction, MonitoredQueue, MonitoredTable
from payments_platform.plugins.observability.dashboard import GRID_WIDTH, build_dashboard, to_json

PROCESSOR = MonitoredFunction(
    "transaction-processor", "transaction-processor-dev", "/aws/lambda/transaction-processor-dev", "api"
)
STATUS = MonitoredFunction("status-checker", "status-checker-dev", "/aws/lambda/status-checker-dev", "api")
TABLE = MonitoredTable("transactions", "payment-transactions-dev", "storage")
API = MonitoredApi("payments-api", "payments-api-dev", "prod", "api")
QUEUE = MonitoredQueue("audit", "transaction-queue-dev.fifo", "messaging")


def everything(**overrides):
    arguments = dict(functions=[PROCESSOR, STATUS], tables=[TABLE], apis=[API], queues=[QUEUE], region="us-east-1")
    return build_dashboard(**{**arguments, **overrides})


def metric_rows(body):
    """(namespace, metric name, dimensions, options) of every plain metric row in the body."""
    rows = []
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], str):
                options = row[-1] if isinstance(row[-1], dict) else {}
                names = row[2:-1] if options else row[2:]
                rows.append((row[0], row[1], dict(zip(names[::2], names[1::2])), options))
    return rows


def metrics_for(body, namespace, dimensions):
    return {name for ns, name, dims, _ in metric_rows(body) if ns == namespace and dims == dimensions}


def test_each_function_gets_invocations_errors_duration_throttles_and_concurrency():
    body = everything()
    for function in (PROCESSOR, STATUS):
        assert metrics_for(body, "AWS/Lambda", {"FunctionName": function.function_name}) == {
            "Invocations",
            "Errors",
            "Duration",
            "Throttles",
            "ConcurrentExecutions",
        }


def test_function_duration_shows_p50_and_p99():
    stats = {
        options.get("stat")
        for ns, name, dims, options in metric_rows(everything())
        if name == "Duration" and dims == {"FunctionName": PROCESSOR.function_name}
    }
    assert stats == {"p50", "p99"}


def test_table_gets_capacity_throttling_and_error_metrics():
    body = everything()
    assert {"ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits", "ReadThrottleEvents", "WriteThrottleEvents"} <= (
        metrics_for(body, "AWS/DynamoDB", {"TableName": TABLE.table_name})
    )
    expressions = [
        row[0]["expression"]
        for widget in body["widgets"]
        for row in widget["properties"]["metrics"]
        if isinstance(row[0], dict)
    ]
    # ThrottledRequests and SystemErrors exist only per (TableName, Operation): summed by search.
    for metric in ("ThrottledRequests", "SystemErrors"):
        assert any(f'MetricName="{metric}"' in e and f'TableName="{TABLE.table_name}"' in e for e in expressions)
    assert "UserErrors" in metrics_for(body, "AWS/DynamoDB", {})


def test_api_metrics_use_api_name_and_stage_dimensions():
    assert metrics_for(everything(), "AWS/ApiGateway", {"ApiName": "payments-api-dev", "Stage": "prod"}) == {
        "4XXError",
        "5XXError",
        "Latency",
        "Count",
    }


def test_queue_gets_messages_sent_and_age_of_oldest_message():
    assert metrics_for(everything(), "AWS/SQS", {"QueueName": QUEUE.queue_name}) == {
        "NumberOfMessagesSent",
        "ApproximateAgeOfOldestMessage",
    }


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
def test_every_widget_uses_the_given_region(region):
    widgets = everything(region=region)["widgets"]
    assert {w["properties"]["region"] for w in widgets} == {region}


def test_layout_does_not_depend_on_registration_order():
    forward = everything(functions=[PROCESSOR, STATUS])
    backward = everything(functions=[STATUS, PROCESSOR])
    assert to_json(forward) == to_json(backward)


def test_functions_are_laid_out_sorted_by_key():
    titles = [w["properties"]["title"] for w in everything()["widgets"]]
    lambda_titles = [t for t in titles if t.startswith("Lambda ")]
    assert lambda_titles[0].startswith("Lambda status-checker:")
    assert lambda_titles[-1].startswith("Lambda transaction-processor:")


def test_widgets_fit_the_grid_and_never_overlap():
    occupied = set()
    for widget in everything()["widgets"]:
        assert widget["x"] + widget["width"] <= GRID_WIDTH
        cells = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not cells & occupied, widget["properties"]["title"]
        occupied |= cells


def test_to_json_sorts_keys():
    text = to_json(everything())
    assert text == json.dumps(json.loads(text), sort_keys=True)


def test_nothing_registered_gives_one_text_widget_explaining_why():
    body = build_dashboard(region="us-east-1")
    assert [w["type"] for w in body["widgets"]] == ["text"]
    assert "ctx.monitoring" in body["widgets"][0]["properties"]["markdown"]
