"""What runs the transaction reconciler and watches it: an EventBridge Scheduler schedule (every
minute, through a role that may invoke only the reconciler) and two alarms, registered with
``ctx.monitoring`` so the observability plugin creates them with the notifications topic as
action -- a transaction that stays stranded, a record the reconciler had to quarantine. An
environment without observability has neither (nor any other alarm).

The reconciler reports its metrics as Embedded Metric Format lines (runtime/metrics.py), so the
alarms watch the ``Payments/Reconciler`` namespace with the ``Environment`` dimension."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments_platform.core import Metric, PluginContext, aws, keys

from .definition import TRANSACTION_RECONCILER

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
    # Where the alarm was while this plugin built it (construct api/alarm_<base name>).
    moved_from: str


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
            moved_from="aws_cloudwatch_metric_alarm.api_alarm_transaction_reconciler_stranded_7B9E468C",
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
            moved_from="aws_cloudwatch_metric_alarm.api_alarm_transaction_reconciler_quarantined_59FC163C",
            description=(
                "The reconciler quarantined an idempotency record it cannot complete (unparseable, its "
                "transaction missing, or a non-retryable failure repeated): that transaction's audit "
                f"message or event may be missing. {where} Find the record by its "
                "dispatch_quarantined attribute, repair it, remove the attribute and set dispatch_pending."
            ),
        ),
    )


def schedule_reconciler(ctx: PluginContext, reconciler: keys.Function) -> Any:
    """Every minute, without flexible window; a missed run is not retried (the next one comes)."""
    role = ctx.roles.role(
        SCHEDULE_ROLE,
        service="scheduler.amazonaws.com",
        description="EventBridge Scheduler: invokes the transaction reconciler, nothing else",
        # Confused-deputy guard (AWS's documented trust for Scheduler): only this account's
        # schedules in the default group, where the reconciler's schedule lives.
        trust_conditions={
            "StringEquals": {"aws:SourceAccount": ctx.aws.account_id},
            "ArnEquals": {"aws:SourceArn": ctx.aws.arn("scheduler", "schedule-group/default")},
        },
    )
    ctx.roles.grant(role, sid="InvokeReconciler", actions=["lambda:InvokeFunction"], resources=[reconciler.arn])
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
            "arn": reconciler.arn,
            "role_arn": role.arn,
            "retry_policy": {"maximum_event_age_in_seconds": 60, "maximum_retry_attempts": 0},
        },
        depends_on=[role.policy],
    )


def register_reconciler_alarms(ctx: PluginContext, reconciler: keys.Function) -> None:
    """Both alarms through ``ctx.monitoring`` (the observability plugin creates them and notifies
    the topic). This plugin built them itself before: ``moved_from`` keeps each one where
    Terraform has it instead of replacing it (removable once every environment has applied)."""
    for alarm in reconciler_alarms(reconciler.physical_name, reconciler.physical_log_group_name):
        ctx.monitoring.alarm(
            alarm.base_name,
            metric=Metric(
                METRIC_NAMESPACE,
                alarm.metric_name,
                dimensions={"Environment": ctx.environment.name},
                stat=alarm.statistic,
            ),
            threshold=alarm.threshold,
            description=alarm.description,
            comparison="GreaterThanOrEqualToThreshold",
            period_seconds=60,
            evaluation_periods=alarm.evaluation_periods,
            treat_missing_data=alarm.treat_missing_data,
            moved_from=alarm.moved_from,
        )


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
