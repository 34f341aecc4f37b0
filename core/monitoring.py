"""What plugins register for observability: functions, tables, APIs, queues, log groups,
and any plugin's own metric widgets and alarms.

The observability plugin builds dashboards and alarms from these registrations, never
from hard-coded names; the audit plugin archives every registered log group. Each entry
remembers the plugin that registered it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

from payments_platform.core.errors import RegistrationError


@dataclass(frozen=True)
class MonitoredFunction:
    """A Lambda function registered with ``ctx.monitoring.function``: graphed and alarmed on errors and throttles."""

    # unique among registered functions
    key: str
    # the function's name (CloudWatch's FunctionName dimension)
    function_name: str
    # the log group it writes to (for log insights widgets)
    log_group_name: str
    # the plugin that registered it
    plugin: str


@dataclass(frozen=True)
class MonitoredTable:
    """A DynamoDB table registered with ``ctx.monitoring.table``: graphed (throttles, errors)."""

    # unique among registered tables
    key: str
    # the table's name (CloudWatch's TableName dimension)
    table_name: str
    # the plugin that registered it
    plugin: str


@dataclass(frozen=True)
class MonitoredApi:
    """A REST API stage registered with ``ctx.monitoring.api``: the dashboard graphs its traffic and errors."""

    # unique among registered APIs
    key: str
    # the REST API's name (CloudWatch's ApiName dimension)
    api_name: str
    # the stage (CloudWatch's Stage dimension)
    stage_name: str
    # the plugin that registered it
    plugin: str


@dataclass(frozen=True)
class MonitoredQueue:
    """An SQS queue registered with ``ctx.monitoring.queue``: graphed, and alarmed when it is a dead-letter queue."""

    # unique among registered queues
    key: str
    # the queue's name (CloudWatch's QueueName dimension)
    queue_name: str
    # the plugin that registered it
    plugin: str
    # Set on a dead-letter queue: the queue whose failed messages it holds. Anything visible
    # in a dead-letter queue is a message nobody processed, so it alarms on the first one.
    dead_letter_for: str | None = None


@dataclass(frozen=True)
class MonitoredLogGroup:
    """A log group whose events belong to the audit trail (PCI DSS 10.2). ``log_group_name``
    and ``log_group_arn`` are references to the log group resource (tokens), so whoever
    subscribes to it is created after it."""

    # unique among registered log groups
    key: str
    # the log group's name (reference)
    log_group_name: str
    # its ARN (reference)
    log_group_arn: str
    # the plugin that registered it
    plugin: str


# What CloudWatch accepts (PutMetricAlarm / GetMetricData); anything else fails at apply time.
STATISTICS = frozenset({"Sum", "Average", "Minimum", "Maximum", "SampleCount"})
_EXTENDED_STATISTIC = re.compile(r"^(p|tm|wm|tc|ts)\d{1,2}(\.\d{1,10})?$")
COMPARISONS = frozenset(
    {
        "GreaterThanOrEqualToThreshold",
        "GreaterThanThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
    }
)
TREAT_MISSING_DATA = frozenset({"breaching", "notBreaching", "ignore", "missing"})


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric: ``namespace`` (e.g. ``"AWS/WAFV2"``), metric ``name``, its
    ``dimensions`` (name → value, values may be tokens), the statistic to show or alarm on
    (``Sum``, ``Average``, ``Minimum``, ``Maximum``, ``SampleCount`` or a percentile such as
    ``p99``) and an optional graph ``label``."""

    # e.g. "AWS/Lambda" or your own namespace
    namespace: str
    # the metric name, e.g. "Errors"
    name: str
    # dimension name → value (values may be references)
    dimensions: Mapping[str, str] = field(default_factory=dict, hash=False)
    # Sum, Average, Minimum, Maximum, SampleCount or a percentile such as p99
    stat: str = "Sum"
    # the graph legend's label ("": CloudWatch's default)
    label: str = ""

    def __post_init__(self) -> None:
        # Frozen all the way down: a registration cannot change after it was checked.
        object.__setattr__(self, "dimensions", MappingProxyType(dict(self.dimensions)))

    @property
    def is_extended_statistic(self) -> bool:
        """A percentile-style statistic (``p99``, ``tm90``): CloudWatch alarms take it as ``extended_statistic``."""
        return self.stat not in STATISTICS


@dataclass(frozen=True)
class MetricWidget:
    """One graph on the dashboard, registered with ``ctx.monitoring.metric_widget``."""

    # unique among metric widgets; graphs are sorted by it
    key: str
    # the graph's title
    title: str
    # the metrics on the graph
    metrics: tuple[Metric, ...]
    # aggregation period: 10, 30 or a multiple of 60
    period_seconds: int
    # the plugin that registered it
    plugin: str


@dataclass(frozen=True)
class MetricAlarm:
    """One CloudWatch alarm on ``metric``, registered with ``ctx.monitoring.alarm``. The
    observability plugin creates it as ``<key>-<environment suffix>`` and notifies the
    notifications topic on ALARM and on OK, like its own alarms. ``moved_from``: the Terraform
    address the same alarm had before (a ``moved`` block), or None."""

    # unique among alarms; the alarm is named <key>-<suffix>
    key: str
    # what is watched
    metric: Metric
    # the value compared against
    threshold: float
    # what the responder reads: what broke and what to do
    description: str
    # one of CloudWatch's ComparisonOperator values
    comparison: str
    # 10, 30 or a multiple of 60
    period_seconds: int
    # consecutive breaching periods before ALARM
    evaluation_periods: int
    # notBreaching, breaching, ignore or missing
    treat_missing_data: str
    # the plugin that registered it
    plugin: str
    # the alarm's earlier Terraform address, when it was built elsewhere (a moved block keeps it)
    moved_from: str | None = None


_KEY = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
# What a registered alarm may have been before: an alarm resource at the stack's root.
_ALARM_ADDRESS = re.compile(r"^aws_cloudwatch_metric_alarm\.[A-Za-z_][A-Za-z0-9_-]*$")


def check_moved_from(address: str | None, plugin: str, where: str) -> None:
    if address is not None and (not isinstance(address, str) or not _ALARM_ADDRESS.match(address)):
        raise RegistrationError(
            f"plugin '{plugin}' {where}: moved_from {address!r} is not the address of an alarm "
            "(aws_cloudwatch_metric_alarm.<name>, as in the state)"
        )


def check_key(key: str, plugin: str, kind: str) -> None:
    # Keys become resource names and construct ids: the same shape as ctx.naming's base names.
    if not isinstance(key, str) or not _KEY.match(key):
        raise RegistrationError(
            f"plugin '{plugin}' registered {kind} {key!r}: a key is lowercase letters, digits and hyphens"
        )


def check_metric(metric: Metric, plugin: str, where: str) -> None:
    """Refuse a metric CloudWatch would refuse, naming the plugin and the registration."""
    if not isinstance(metric, Metric):
        raise RegistrationError(f"plugin '{plugin}' {where}: {metric!r} is not a Metric")
    if not metric.namespace or not metric.name:
        raise RegistrationError(f"plugin '{plugin}' {where}: a metric needs a namespace and a name")
    if metric.stat not in STATISTICS and not _EXTENDED_STATISTIC.match(metric.stat):
        raise RegistrationError(
            f"plugin '{plugin}' {where}: statistic '{metric.stat}' is not one of "
            f"{', '.join(sorted(STATISTICS))} or a percentile such as p99"
        )


def check_period(period_seconds: int, plugin: str, where: str) -> None:
    # CloudWatch: 10, 30 or a multiple of 60 seconds.
    if (
        not isinstance(period_seconds, int)
        or period_seconds <= 0
        or (period_seconds not in (10, 30) and period_seconds % 60)
    ):
        raise RegistrationError(
            f"plugin '{plugin}' {where}: period_seconds {period_seconds!r} must be 10, 30 or a multiple of 60"
        )


E = TypeVar(
    "E", MonitoredFunction, MonitoredTable, MonitoredApi, MonitoredQueue, MonitoredLogGroup, MetricWidget, MetricAlarm
)


class _Catalog(Generic[E]):
    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._entries: dict[str, E] = {}

    def add(self, entry: E) -> E:
        if entry.key in self._entries:
            other = self._entries[entry.key]
            raise RegistrationError(
                f"plugin '{entry.plugin}' registered {self._kind} '{entry.key}', already registered by plugin '{other.plugin}'"
            )
        self._entries[entry.key] = entry
        return entry

    def all(self) -> list[E]:
        return [self._entries[k] for k in sorted(self._entries)]


class MonitoringRegistry:
    def __init__(self) -> None:
        self.functions: _Catalog[MonitoredFunction] = _Catalog("function")
        self.tables: _Catalog[MonitoredTable] = _Catalog("table")
        self.apis: _Catalog[MonitoredApi] = _Catalog("api")
        self.queues: _Catalog[MonitoredQueue] = _Catalog("queue")
        self.log_groups: _Catalog[MonitoredLogGroup] = _Catalog("log group")
        self.metric_widgets: _Catalog[MetricWidget] = _Catalog("metric widget")
        self.alarms: _Catalog[MetricAlarm] = _Catalog("alarm")
