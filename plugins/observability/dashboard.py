"""The payments dashboard, built from what plugins registered with ``ctx.monitoring``.

Pure: registrations and a region in, the dashboard body (a dict in CloudWatch's dashboard
body structure) out — no constructs, so it is tested without synthesizing. Layout is
deterministic: sections in request order (APIs → functions → tables → queues), resources
sorted by registration key, each resource starting a new row of fixed-size graphs; then the
metric widgets other plugins registered, one graph each, sorted by key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from payments_platform.core import Metric as RegisteredMetric
from payments_platform.core import MetricWidget, MonitoredApi, MonitoredFunction, MonitoredQueue, MonitoredTable

GRID_WIDTH = 24  # CloudWatch dashboards are 24 units wide
WIDGET_WIDTH = 8
WIDGET_HEIGHT = 6
DEFAULT_PERIOD_SECONDS = 60

Metric = list[Any]
Graph = dict[str, Any]  # a metric widget's properties, before it is placed on the grid


def build_dashboard(
    *,
    functions: Sequence[MonitoredFunction] = (),
    tables: Sequence[MonitoredTable] = (),
    apis: Sequence[MonitoredApi] = (),
    queues: Sequence[MonitoredQueue] = (),
    metric_widgets: Sequence[MetricWidget] = (),
    region: str,
    period: int = DEFAULT_PERIOD_SECONDS,
) -> dict[str, Any]:
    """The dashboard body: one row group of graphs per registered resource, then one group
    holding a graph per registered metric widget."""
    groups: list[list[Graph]] = [
        *(_api_graphs(api) for api in _by_key(apis)),
        *(_function_graphs(function) for function in _by_key(functions)),
        *(_table_graphs(table, period) for table in _by_key(tables)),
        *(_queue_graphs(queue) for queue in _by_key(queues)),
    ]
    if metric_widgets:
        groups.append([_registered_graph(widget) for widget in _by_key(metric_widgets)])
    if not groups:
        return {"widgets": [_nothing_registered()]}
    for graphs in groups:
        for graph in graphs:
            graph.setdefault("period", period)  # a registered widget brings its own
            graph.update(region=region, view="timeSeries", stacked=False)
    return {"widgets": _layout(groups)}


def to_json(body: dict[str, Any]) -> str:
    """The dashboard body as CloudWatch takes it; sorted keys so synth output is stable."""
    return json.dumps(body, sort_keys=True)


# -- graphs per resource kind ----------------------------------------------------------


def _function_graphs(function: MonitoredFunction) -> list[Graph]:
    def metric(name: str, **options: str) -> Metric:
        return _metric("AWS/Lambda", name, {"FunctionName": function.function_name}, **options)

    title = f"Lambda {function.key}"
    return [
        _graph(f"{title}: invocations", [metric("Invocations")], "Sum"),
        _graph(f"{title}: errors", [metric("Errors")], "Sum"),
        _graph(
            f"{title}: duration (ms)",
            [metric("Duration", stat="p50", label="p50"), metric("Duration", stat="p99", label="p99")],
            "p99",
        ),
        _graph(f"{title}: throttles", [metric("Throttles")], "Sum"),
        _graph(f"{title}: concurrent executions", [metric("ConcurrentExecutions")], "Maximum"),
    ]


def _table_graphs(table: MonitoredTable, period: int) -> list[Graph]:
    def metric(name: str, **options: str) -> Metric:
        return _metric("AWS/DynamoDB", name, {"TableName": table.table_name}, **options)

    def per_operation(name: str, expression_id: str) -> dict[str, Any]:
        # ThrottledRequests and SystemErrors are published per (TableName, Operation) only:
        # sum every operation's series for this table.
        search = (
            f'SEARCH(\'{{AWS/DynamoDB,Operation,TableName}} MetricName="{name}" '
            f"TableName=\"{table.table_name}\"', 'Sum', {period})"
        )
        return {"expression": f"SUM({search})", "id": expression_id, "label": f"{name} (all operations)"}

    title = f"DynamoDB {table.key}"
    return [
        _graph(f"{title}: consumed read capacity", [metric("ConsumedReadCapacityUnits")], "Sum"),
        _graph(f"{title}: consumed write capacity", [metric("ConsumedWriteCapacityUnits")], "Sum"),
        _graph(
            f"{title}: throttling",
            [
                [per_operation("ThrottledRequests", "throttled")],
                metric("ReadThrottleEvents"),
                metric("WriteThrottleEvents"),
            ],
            "Sum",
        ),
        _graph(
            f"{title}: errors",
            [
                [per_operation("SystemErrors", "system")],
                # UserErrors has no table dimension: DynamoDB publishes it per account and region.
                ["AWS/DynamoDB", "UserErrors", {"label": "UserErrors (account-wide)"}],
            ],
            "Sum",
        ),
    ]


def _api_graphs(api: MonitoredApi) -> list[Graph]:
    def metric(name: str, **options: str) -> Metric:
        return _metric("AWS/ApiGateway", name, {"ApiName": api.api_name, "Stage": api.stage_name}, **options)

    title = f"API {api.key}"
    return [
        _graph(f"{title}: requests", [metric("Count")], "Sum"),
        _graph(f"{title}: 4XX errors", [metric("4XXError")], "Sum"),
        _graph(f"{title}: 5XX errors", [metric("5XXError")], "Sum"),
        _graph(
            f"{title}: latency (ms)",
            [metric("Latency", stat="p50", label="p50"), metric("Latency", stat="p99", label="p99")],
            "p99",
        ),
    ]


def _queue_graphs(queue: MonitoredQueue) -> list[Graph]:
    def metric(name: str) -> Metric:
        return _metric("AWS/SQS", name, {"QueueName": queue.queue_name})

    title = f"SQS {queue.key}"
    return [
        _graph(f"{title}: messages sent", [metric("NumberOfMessagesSent")], "Sum"),
        _graph(f"{title}: age of oldest message (s)", [metric("ApproximateAgeOfOldestMessage")], "Maximum"),
    ]


def _registered_graph(widget: MetricWidget) -> Graph:
    def row(metric: RegisteredMetric) -> Metric:
        options = {"stat": metric.stat, **({"label": metric.label} if metric.label else {})}
        return _metric(metric.namespace, metric.name, dict(metric.dimensions), **options)

    graph = _graph(widget.title, [row(metric) for metric in widget.metrics], widget.metrics[0].stat)
    graph["period"] = widget.period_seconds
    return graph


# -- building blocks --------------------------------------------------------------------


def _metric(namespace: str, name: str, dimensions: dict[str, str], **options: str) -> Metric:
    row: Metric = [namespace, name]
    for dimension, value in dimensions.items():
        row += [dimension, value]
    if options:
        row.append(dict(options))
    return row


def _graph(title: str, metrics: list[Any], stat: str) -> Graph:
    return {"title": title, "metrics": metrics, "stat": stat}


def _layout(groups: Iterable[list[Graph]]) -> list[dict[str, Any]]:
    """Place graphs left to right, wrapping at the grid width; each group starts a new row."""
    widgets: list[dict[str, Any]] = []
    y = 0
    for graphs in groups:
        x = 0
        for graph in graphs:
            if x + WIDGET_WIDTH > GRID_WIDTH:
                x, y = 0, y + WIDGET_HEIGHT
            widgets.append(
                {"type": "metric", "x": x, "y": y, "width": WIDGET_WIDTH, "height": WIDGET_HEIGHT, "properties": graph}
            )
            x += WIDGET_WIDTH
        y += WIDGET_HEIGHT
    return widgets


def _nothing_registered() -> dict[str, Any]:
    # An environment with nothing to observe still gets its dashboard, saying why it is empty.
    return {
        "type": "text",
        "x": 0,
        "y": 0,
        "width": GRID_WIDTH,
        "height": 2,
        "properties": {
            "markdown": (
                "No functions, tables, APIs, queues or metric widgets are registered with ctx.monitoring "
                "in this environment."
            )
        },
    }


def _by_key(entries: Iterable[Any]) -> list[Any]:
    return sorted(entries, key=lambda entry: entry.key)
