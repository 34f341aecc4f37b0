"""Alarms on what plugins registered with ``ctx.monitoring``: each says what broke and what to do.

:func:`alarm_specs` is pure (registrations in, specs out) so thresholds, names and
descriptions are tested without synthesizing; :func:`create_alarms` turns specs into
``aws_cloudwatch_metric_alarm`` resources.

Every built-in alarm fires on the Sum over one period reaching its threshold (a single bad
minute pages: payments are not retried by the card holder), and treats missing data as fine —
a function nobody called has no errors. An alarm another plugin registered with
``ctx.monitoring.alarm`` brings its own statistic, comparison, periods and missing-data rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from payments_platform.core import (
    STATISTICS,
    MetricAlarm,
    MonitoredApi,
    MonitoredFunction,
    MonitoredQueue,
    PluginContext,
    RegistrationError,
    aws,
)

COMPARISON = "GreaterThanOrEqualToThreshold"
STATISTIC = "Sum"
EVALUATION_PERIODS = 1
TREAT_MISSING_DATA = "notBreaching"
THROTTLE_THRESHOLD = 1  # any throttled payment request is a failed payment
DEAD_LETTER_THRESHOLD = 1  # one unprocessed message is one audit record missing from the archive


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm before it is a resource. ``base_name`` gets the environment suffix."""

    base_name: str
    namespace: str
    metric_name: str
    dimensions: Mapping[str, str]
    threshold: float
    period: int
    description: str
    plugin: str  # the plugin that registered the watched resource
    statistic: str = STATISTIC  # or a percentile (p99): rendered as extended_statistic
    comparison: str = COMPARISON
    evaluation_periods: int = EVALUATION_PERIODS
    treat_missing_data: str = TREAT_MISSING_DATA
    moved_from: str | None = None  # the alarm's earlier Terraform address, kept by a moved block
    construct_id: str = field(init=False)

    def __post_init__(self) -> None:
        # Derived from the registration key, never the physical name: stable across environments.
        object.__setattr__(self, "construct_id", "alarm_" + self.base_name.replace("-", "_"))


def alarm_specs(
    *,
    functions: Sequence[MonitoredFunction] = (),
    apis: Sequence[MonitoredApi] = (),
    queues: Sequence[MonitoredQueue] = (),
    registered: Sequence[MetricAlarm] = (),
    error_threshold: int = 1,
    period: int = 60,
) -> list[AlarmSpec]:
    """Errors and throttles per function, 5XX errors per API, messages in each dead-letter
    queue, and every alarm registered with ``ctx.monitoring.alarm``; sorted by name."""
    specs = [spec for function in functions for spec in _function_specs(function, error_threshold, period)]
    specs += [_api_spec(api, error_threshold, period) for api in apis]
    specs += [_dead_letter_spec(queue, period) for queue in queues if queue.dead_letter_for is not None]
    specs.extend(_registered_spec(alarm) for alarm in registered)
    _reject_duplicates(specs)
    return sorted(specs, key=lambda spec: spec.base_name)


def _function_specs(function: MonitoredFunction, error_threshold: int, period: int) -> tuple[AlarmSpec, AlarmSpec]:
    dimensions = {"FunctionName": function.function_name}
    errors = AlarmSpec(
        base_name=f"{function.key}-errors",
        namespace="AWS/Lambda",
        metric_name="Errors",
        dimensions=dimensions,
        threshold=error_threshold,
        period=period,
        plugin=function.plugin,
        description=(
            f"Lambda {function.function_name} reported errors (at least {error_threshold} in "
            f"{period} s): payment requests are failing. Find the failing requests in log group "
            f"{function.log_group_name} and their X-Ray traces; if the errors started with a "
            f"deployment, roll it back. Registered by plugin '{function.plugin}'."
        ),
    )
    throttles = AlarmSpec(
        base_name=f"{function.key}-throttles",
        namespace="AWS/Lambda",
        metric_name="Throttles",
        dimensions=dimensions,
        threshold=THROTTLE_THRESHOLD,
        period=period,
        plugin=function.plugin,
        description=(
            f"Lambda {function.function_name} was throttled in the last {period} s: its concurrency "
            f"is used up and payment requests were rejected. Compare ConcurrentExecutions on the "
            f"payments dashboard with the function's reserved concurrency; raise it in the settings "
            f"of plugin '{function.plugin}' or find the source of the traffic spike."
        ),
    )
    return errors, throttles


def _api_spec(api: MonitoredApi, error_threshold: int, period: int) -> AlarmSpec:
    return AlarmSpec(
        base_name=f"{api.key}-5xx-errors",
        namespace="AWS/ApiGateway",
        metric_name="5XXError",
        dimensions={"ApiName": api.api_name, "Stage": api.stage_name},
        threshold=error_threshold,
        period=period,
        plugin=api.plugin,
        description=(
            f"API {api.api_name} (stage {api.stage_name}) returned 5XX responses (at least "
            f"{error_threshold} in {period} s): clients saw server errors. Check the Lambda error and "
            f"throttle alarms and the API's access logs to find the failing integration. "
            f"Registered by plugin '{api.plugin}'."
        ),
    )


def _dead_letter_spec(queue: MonitoredQueue, period: int) -> AlarmSpec:
    return AlarmSpec(
        base_name=f"{queue.key}-messages",
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": queue.queue_name},
        threshold=DEAD_LETTER_THRESHOLD,
        period=period,
        plugin=queue.plugin,
        description=(
            f"Dead-letter queue {queue.queue_name} holds messages: their consumer failed on them "
            f"repeatedly and gave up, so they were not processed from {queue.dead_letter_for}. Read "
            f"the consumer's log for the failure, fix it, then redrive the messages (SQS "
            f"StartMessageMoveTask) before they expire. Registered by plugin '{queue.plugin}'."
        ),
    )


def create_alarms(ctx: PluginContext, specs: Sequence[AlarmSpec], *, actions: Sequence[str]) -> list[Any]:
    """One metric alarm per spec; ``actions`` (SNS topic ARNs) notify on ALARM and on OK.

    With no actions the alarms still change state and show on the console, but notify nobody.
    """
    alarms = []
    for spec in specs:
        name = ctx.naming.name(spec.base_name, kind="alarm")
        alarm = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
            ctx.scope,
            spec.construct_id,
            alarm_name=name,
            alarm_description=spec.description,
            namespace=spec.namespace,
            metric_name=spec.metric_name,
            dimensions=dict(spec.dimensions),
            statistic=spec.statistic if spec.statistic in STATISTICS else None,
            extended_statistic=None if spec.statistic in STATISTICS else spec.statistic,
            period=spec.period,
            evaluation_periods=spec.evaluation_periods,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            treat_missing_data=spec.treat_missing_data,
            alarm_actions=list(actions) or None,
            ok_actions=list(actions) or None,
            tags={"Name": name},
        )
        if spec.moved_from:
            alarm.move_from_id(spec.moved_from)
        alarms.append(alarm)
    return alarms


def _registered_spec(alarm: MetricAlarm) -> AlarmSpec:
    return AlarmSpec(
        base_name=alarm.key,
        namespace=alarm.metric.namespace,
        metric_name=alarm.metric.name,
        dimensions=dict(alarm.metric.dimensions),
        threshold=alarm.threshold,
        period=alarm.period_seconds,
        description=alarm.description,
        plugin=alarm.plugin,
        statistic=alarm.metric.stat,
        comparison=alarm.comparison,
        evaluation_periods=alarm.evaluation_periods,
        treat_missing_data=alarm.treat_missing_data,
        moved_from=alarm.moved_from,
    )


def _reject_duplicates(specs: Sequence[AlarmSpec]) -> None:
    # e.g. function "x-5xx" and API "x" would both want alarm "x-5xx-errors".
    seen: dict[str, AlarmSpec] = {}
    for spec in specs:
        other = seen.setdefault(spec.base_name, spec)
        if other is not spec:
            raise RegistrationError(
                f"alarm '{spec.base_name}' would be created twice: for a resource registered by plugin "
                f"'{other.plugin}' and for one registered by plugin '{spec.plugin}'; rename one registration key"
            )
