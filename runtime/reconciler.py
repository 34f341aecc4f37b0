"""The transaction reconciler (``payments_runtime.reconciler.handler``), run every minute by
EventBridge Scheduler: the relay of a transactional outbox. A crash or timeout between the
DynamoDB write and the SQS/SNS dispatch leaves an idempotency record in the sparse
dispatch-pending index; the reconciler completes its audit message and event without waiting for
a client retry, so the audit trail has no gap (PCI DSS 10.2).

Exactly once as consumers see it: the reconciler sends the very messages the request would have
sent -- audit message with MessageDeduplicationId = transaction id in the client's message group
(a re-send within SQS's 5-minute deduplication window is dropped), event with event_id =
transaction id (SNS delivers at least once; subscribers de-duplicate on it). It never creates a
transaction and never sends a message under another id.

Safe when runs overlap (or race a client retry): each record is claimed with a conditional
update on its expired lease, so exactly one claimant dispatches it. Bounded: at most
MAX_RECORDS_PER_RUN records, and none started once the invocation's time runs short. A record it
cannot complete (its transaction missing, a non-retryable failure repeated) is quarantined: out of
the index, with a reason, a metric and a log line naming its key -- never retried forever, never
blocking the rest. A record that does not read back (record_codec.py) is quarantined too, and is
also a critical log line and an ``UnparseableRecords`` metric with an alarm of its own: it is the
runtime's bug, not the data's. Logs carry ids and error classes only, never card data
(the records hold none)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import client, error_code, invoke_client, is_retryable
from .connector_client import ConnectorClient
from .deadline import InvocationDeadlineExceeded, invocation_deadline, remaining_ms
from .dispatch import DispatchFailed, TransactionDispatcher
from .idempotency import IdempotencyRecord, dispatch_shards, lease_ms_for
from .logging_config import bind_request_context, configure_logging, get_logger
from .metrics import put_metrics, report_unparseable_record
from .record_codec import RecordUnparseable
from .settings import (
    audit_queue_url,
    authorization_budget_ms,
    connector_function_name,
    dispatch_index_name,
    environment_name,
    function_name,
    notifications_topic_arn,
    transactions_table_name,
)
from .transaction_lifecycle import TransactionLifecycle
from .transaction_records import FINAL_STATUSES, Transaction, idempotency_record_from_item
from .transaction_store import TransactionStore

configure_logging()

MAX_RECORDS_PER_RUN = 100
# A record is not started with less invocation time left than this (one claim, a find, two
# sends, one completion -- each bounded by the clients' timeouts).
MIN_TIME_PER_RECORD_MS = 2_000
# A transaction without its outcome is left this long -- to an authorize still on its way to the
# acquirer, and to its client's retries -- before the reconciler asks the connector for its status, an
# answer that closes the key. With the one-minute schedule: settled within 2 minutes (docs/RUNTIME.md).
OUTCOME_GRACE_MS = 30_000
# Non-retryable failures on one record before it is quarantined (retryable ones -- an SQS
# outage, say -- never quarantine: the stranded-age alarm pages instead).
MAX_FAILED_ATTEMPTS = 5


@dataclass
class ReconciliationReport:
    stranded: int = 0  # records found with an expired lease (or an incomplete dispatch)
    oldest_age_seconds: float = 0.0  # age of the oldest stranded transaction
    reconciled: int = 0
    claimed_elsewhere: int = 0  # completed or claimed by a client retry or an overlapping run
    failed: int = 0
    quarantined: int = 0
    unparseable: int = 0  # quarantined because a record did not read back (also alarmed on its own)
    deferred: int = 0  # left for the next run (record bound or invocation time)
    resolved: int = 0  # processing transactions given their outcome by the connector's status query
    unresolved: int = 0  # processing transactions the connector did not answer for (asked again next run)
    reconciled_transaction_ids: list[str] = field(default_factory=list)


class TransactionReconciler:
    def __init__(
        self,
        store: TransactionStore,
        dispatcher: TransactionDispatcher,
        index_name: str,
        clock: Callable[[], float] = time.time,
        max_records: int = MAX_RECORDS_PER_RUN,
        lifecycle: TransactionLifecycle | None = None,
    ):
        self._store = store
        self._dispatcher = dispatcher
        self._lifecycle = lifecycle  # None: intake only
        self._index = index_name
        self._clock = clock
        self._max_records = max_records

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def run(self) -> ReconciliationReport:
        report = ReconciliationReport()
        now_ms = self._now_ms()
        entries: list[dict[str, Any]] = []
        for shard in dispatch_shards():
            entries += self._store.stranded(self._index, shard, now_ms, self._max_records + 1)
        entries.sort(key=lambda entry: _number(entry, "lease_expires_at"))
        report.stranded = len(entries)
        created = [t for t in (_number(e, "target_timestamp") for e in entries) if t > 0]
        if created:
            report.oldest_age_seconds = round(max(0, now_ms - min(created)) / 1000, 3)
        for position, entry in enumerate(entries):
            left = remaining_ms()
            if position >= self._max_records or (left is not None and left < MIN_TIME_PER_RECORD_MS):
                report.deferred = len(entries) - position
                break
            try:
                self._reconcile(entry, report)
            except InvocationDeadlineExceeded:
                report.deferred = len(entries) - position
                break
            except (ClientError, BotoCoreError) as error:
                # One record's failure never stops the batch; its lease brings it back next run.
                report.failed += 1
                get_logger().error(
                    "reconciler.record_failed",
                    idempotency_record=entry.get("transaction_id", {}).get("S", "?"),
                    aws_error_code=error_code(error),
                    error_class=type(error).__name__,
                )
        return report

    def _reconcile(self, entry: dict[str, Any], report: ReconciliationReport) -> None:
        log = get_logger()
        key = {"transaction_id": entry["transaction_id"], "timestamp": entry["timestamp"]}
        record_key = key["transaction_id"].get("S", "?")
        now_ms = self._now_ms()
        item = self._store.claim_for_reconciliation(key, now_ms, lease_ms_for(remaining_ms()))
        if item is None:
            report.claimed_elsewhere += 1
            return
        log = log.bind(idempotency_record=record_key)
        try:
            record = idempotency_record_from_item(item)
            transaction = self._store.find_transaction(record.transaction_id)
        except RecordUnparseable as error:
            # A record this runtime wrote and cannot read: a platform bug, alarmed on its own
            # metric; out of the index so it never blocks the rest, its field named.
            report_unparseable_record(error, reader="reconciler")
            report.unparseable += 1
            self._quarantine(key, record_key, f"record_unparseable:{error.field}", report)
            return
        log = log.bind(transaction_id=record.transaction_id, attempt=record.reconcile_attempts)
        if transaction is None:
            self._quarantine(key, record_key, "transaction_missing", report)
            return
        request_id = record.request_id or "reconciler"
        try:
            self._dispatcher.send_missing(
                transaction, request_id, audit_sent=record.audit_sent, event_published=record.event_published
            )
            if self._lifecycle is not None and not self._resolve(transaction, record, request_id, report):
                return
        except DispatchFailed as failed:
            report.failed += 1
            log.error(
                "reconciler.dispatch_failed",
                audit_sent=failed.audit_sent,
                event_published=failed.event_published,
                aws_error_code=error_code(failed.cause),
                error_class=type(failed.cause).__name__,
            )
            if not is_retryable(failed.cause) and record.reconcile_attempts >= MAX_FAILED_ATTEMPTS:
                self._quarantine(
                    key,
                    record_key,
                    f"dispatch_failed:{error_code(failed.cause) or type(failed.cause).__name__}",
                    report,
                )
                return
            # Progress is kept, and lease 0 puts it first in line for the next run.
            self._store.mark_dispatch_incomplete(
                record.record_id, audit_sent=failed.audit_sent, event_published=failed.event_published
            )
            return
        self._store.mark_dispatch_complete(record.record_id)
        report.reconciled += 1
        report.reconciled_transaction_ids.append(record.transaction_id)
        log.info(
            "reconciler.dispatch_completed",
            audit_was_sent=record.audit_sent,
            event_was_published=record.event_published,
        )

    def _resolve(
        self, transaction: Transaction, record: IdempotencyRecord, request_id: str, report: ReconciliationReport
    ) -> bool:
        """Ask the connector for the outcome of the transaction's key (transaction_lifecycle.py: a
        status query, never an authorize -- this function holds no card data). True when it has its
        outcome; otherwise it stays in the index (lease 0) and the next run asks again."""
        if transaction.status in FINAL_STATUSES:
            return True
        lifecycle = self._lifecycle
        assert lifecycle is not None
        if self._now_ms() - transaction.created_at_ms < OUTCOME_GRACE_MS:
            # Its authorize may still be on its way to the acquirer (the processor cut short, the
            # connector slow): a status query now would close the key (not_submitted) under it.
            report.unresolved += 1
            self._store.mark_dispatch_incomplete(record.record_id, audit_sent=True, event_published=True)
            return False
        resolved = lifecycle.advance(transaction, record.record_id, request_id)
        if resolved.status in FINAL_STATUSES:
            report.resolved += 1
            return True
        report.unresolved += 1
        get_logger().warning("reconciler.outcome_unknown", transaction_id=transaction.transaction_id)
        self._store.mark_dispatch_incomplete(record.record_id, audit_sent=True, event_published=True)
        return False

    def _quarantine(self, key: dict[str, Any], record_key: str, reason: str, report: ReconciliationReport) -> None:
        report.quarantined += 1
        get_logger().error("reconciler.record_quarantined", idempotency_record=record_key, reason=reason)
        self._store.quarantine(key, reason, self._now_ms())


def _number(entry: dict[str, Any], name: str) -> int:
    try:
        return int(entry[name]["N"])
    except (KeyError, TypeError, ValueError):
        return 0


@functools.lru_cache(maxsize=1)
def transaction_reconciler() -> TransactionReconciler:
    store = TransactionStore(client("dynamodb"), transactions_table_name())
    dispatcher = TransactionDispatcher(
        client("sqs"), client("sns"), audit_queue_url(), notifications_topic_arn(), environment_name()
    )
    connector = connector_function_name()
    lifecycle = (
        None
        if connector is None
        else TransactionLifecycle(
            store, dispatcher, ConnectorClient(invoke_client, connector), authorization_budget_ms()
        )
    )
    return TransactionReconciler(store, dispatcher, dispatch_index_name(), lifecycle=lifecycle)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Scheduled: the event's content is not used. Raises on a failure of the run itself (the
    index query): Lambda's Errors metric and its alarm see it, and the next run starts over."""
    bind_request_context(
        request_id=getattr(context, "aws_request_id", None) or "reconciler",
        function=getattr(context, "function_name", None) or function_name(),
        operation="reconcile",
    )
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    started = time.perf_counter()
    try:
        with invocation_deadline(remaining() if callable(remaining) else None):
            report = transaction_reconciler().run()
    except (ClientError, BotoCoreError) as error:
        get_logger().error("reconciler.run_failed", aws_error_code=error_code(error), error_class=type(error).__name__)
        raise
    put_metrics(
        "reconciler.run",
        {
            "StrandedTransactions": report.stranded,
            "OldestStrandedAgeSeconds": report.oldest_age_seconds,
            "ReconciledTransactions": report.reconciled,
            "FailedReconciliations": report.failed,
            "QuarantinedRecords": report.quarantined,
        },
        {
            "StrandedTransactions": "Count",
            "OldestStrandedAgeSeconds": "Seconds",
            "ReconciledTransactions": "Count",
            "FailedReconciliations": "Count",
            "QuarantinedRecords": "Count",
        },
    )
    summary = {
        "stranded": report.stranded,
        "oldest_age_seconds": report.oldest_age_seconds,
        "reconciled": report.reconciled,
        "claimed_elsewhere": report.claimed_elsewhere,
        "failed": report.failed,
        "quarantined": report.quarantined,
        "unparseable": report.unparseable,
        "deferred": report.deferred,
        "resolved": report.resolved,
        "unresolved": report.unresolved,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    get_logger().info("reconciler.summary", **summary)
    return summary
