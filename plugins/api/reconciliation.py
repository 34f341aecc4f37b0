"""What runs the transaction reconciler and watches it: an EventBridge Scheduler schedule (every
minute, through a role that may invoke only the reconciler) and two alarms to the notifications
topic -- a transaction that stays stranded, a record the reconciler had to quarantine.

The reconciler reports its metrics as Embedded Metric Format lines (runtime/metrics.py), so the
alarms watch the ``Payments/Reconciler`` namespace with the ``Environment`` dimension."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments_platform.core import Metric, PluginContext, aws, keys

from .definition import TRANSACTION_RECONCILER
from .functions import BuiltFunction

SCHEDULE_EXPRESSION = "rate(1 minute)"
SCHEDULE_ROLE = f"{TRANSACTION_RECONCILER}-schedule"
METRIC_NAMESPACE = "Payments/Reconciler"
# Emitted by every function that reads a platform record (runtime/metrics.py).
RECORDS_NAMESPACE = "Payments/Records"
# Past SQS FIFO's 5-minute deduplication window a transaction is stranded for real: runs every
# minute have failed to complete it five times.
STRANDED_AGE_ALARM_SECONDS = 300


@dataclass(frozen=True)
class ReconcilerAlarm:
    base_name: str
    metric_name: str
    statistic: str
    threshold: int
    evaluation_periods: int
    treat_missing_data: str
    description: str


def reconciler_alarms(function_name: str, log_group_name: str) -> tuple[ReconcilerAlarm, ...]:
    where = f"Runs of {function_name} log each stranded transaction and the reason in {log_group_name}."
    return (
        ReconcilerAlarm(
            base_name=f"{TRANSACTION_RECONCILER}-stranded",
            metric_name="OldestStrandedAgeSeconds",
            statistic="Maximum",
            threshold=STRANDED_AGE_ALARM_SECONDS,
            evaluation_periods=3,
            # No data means the reconciler stopped reporting: the audit trail is unguarded.
            treat_missing_data="breaching",
            description=(
                f"A transaction has waited at least {STRANDED_AGE_ALARM_SECONDS} s for its audit message "
                "or payment event (PCI DSS 10.2: audit trail gap), or the reconciler stopped reporting. "
                f"{where} Check the audit queue, the notifications topic and their KMS key; "
                "once they accept messages again the next run converges."
            ),
        ),
        ReconcilerAlarm(
            base_name=f"{TRANSACTION_RECONCILER}-quarantined",
            metric_name="QuarantinedRecords",
            statistic="Sum",
            threshold=1,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            description=(
                "The reconciler quarantined an idempotency record it cannot complete (unparseable, its "
                "transaction missing, or a non-retryable failure repeated): that transaction's audit "
                f"message or event may be missing. {where} Find the record by its "
                "dispatch_quarantined attribute, repair it, remove the attribute and set dispatch_pending."
            ),
        ),
    )


def schedule_reconciler(ctx: PluginContext, reconciler: BuiltFunction) -> Any:
    """Every minute, without flexible window; a missed run is not retried (the next one comes)."""
    role = ctx.roles.role(
        SCHEDULE_ROLE,
        service="scheduler.amazonaws.com",
        description="EventBridge Scheduler: invokes the transaction reconciler, nothing else",
    )
    ctx.roles.grant(
        role, sid="InvokeReconciler", actions=["lambda:InvokeFunction"], resources=[reconciler.function.arn]
    )
    return aws.scheduler_schedule.SchedulerSchedule(
        ctx.scope,
        "transaction_reconciler_schedule",
        name=ctx.naming.name(TRANSACTION_RECONCILER, kind="schedule"),
        description="Completes the audit message and event of transactions whose dispatch was cut short",
        schedule_expression=SCHEDULE_EXPRESSION,
        flexible_time_window={"mode": "OFF"},
        # The schedule (and its target input) encrypted under the platform CMK, like everything else.
        kms_key_arn=ctx[keys.KMS_KEY].arn,
        target={
            "arn": reconciler.function.arn,
            "role_arn": role.arn,
            "retry_policy": {"maximum_event_age_in_seconds": 60, "maximum_retry_attempts": 0},
        },
        depends_on=[role.policy],
    )


def create_reconciler_alarms(ctx: PluginContext, reconciler: BuiltFunction) -> list[Any]:
    topic = ctx[keys.NOTIFICATIONS_TOPIC]
    alarms = []
    for alarm in reconciler_alarms(reconciler.name, reconciler.log_group_name):
        name = ctx.naming.name(alarm.base_name, kind="alarm")
        alarms.append(
            aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
                ctx.scope,
                "alarm_" + alarm.base_name.replace("-", "_"),
                alarm_name=name,
                alarm_description=alarm.description,
                namespace=METRIC_NAMESPACE,
                metric_name=alarm.metric_name,
                dimensions={"Environment": ctx.environment.name},
                statistic=alarm.statistic,
                period=60,
                evaluation_periods=alarm.evaluation_periods,
                threshold=alarm.threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data=alarm.treat_missing_data,
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                tags={"Name": name},
            )
        )
    return alarms


def register_unparseable_record_alarm(ctx: PluginContext, functions: list[str]) -> None:
    """A record the runtime wrote and cannot read back is the runtime's bug, never a client's: one
    occurrence pages (through ctx.monitoring, rendered by observability)."""
    ctx.monitoring.alarm(
        "platform-record-unparseable",
        metric=Metric(RECORDS_NAMESPACE, "UnparseableRecords", {"Environment": ctx.environment.name}),
        threshold=1,
        description=(
            "A payments function read a transaction or idempotency record it cannot parse: the runtime wrote "
            "a value its own readers refuse (a bug), or the item was edited by hand. The request got a 500, or "
            "the reconciler quarantined the record with dispatch_quarantined = record_unparseable:<field>. "
            f"The critical log line record.unparseable in the log groups of {', '.join(sorted(functions))} "
            "names the record and the field; fix the writer, repair the item, then remove dispatch_quarantined "
            "and set dispatch_pending so the reconciler completes it."
        ),
    )
