"""The reconciler completes every stranded dispatch exactly once as consumers see it, without a
client retry; a later retry still gets the original 201."""

from __future__ import annotations

import json
import threading

import pytest

from payments_platform.runtime import aws_clients, reconciler, transactions
from payments_platform.runtime.dispatch import TransactionDispatcher
from payments_platform.runtime.reconciler import TransactionReconciler
from payments_platform.runtime.transaction_store import TransactionStore

from .support import (
    DISPATCH_INDEX_NAME,
    TABLE_NAME,
    VISA,
    FakeClock,
    api_event,
    body_of,
    create,
    creator_with_clock,
    fail_once,
    serialized_moto_transactions,
    valid_body,
)


class Crash(BaseException):
    """The function dying mid-request (timeout, out of memory): nothing after it runs."""


@pytest.fixture
def clock(aws, monkeypatch):
    fake = FakeClock()
    creator = creator_with_clock(aws, fake)
    monkeypatch.setattr(transactions, "transaction_creator", lambda: creator)
    monkeypatch.setattr(reconciler, "transaction_reconciler", lambda: reconciler_at(fake, aws))
    fake.creator = creator
    return fake


def reconciler_at(clock, aws, **kwargs) -> TransactionReconciler:
    return TransactionReconciler(
        store=TransactionStore(aws_clients.client("dynamodb"), TABLE_NAME),
        dispatcher=TransactionDispatcher(
            aws_clients.client("sqs"), aws_clients.client("sns"), aws.audit_queue_url, aws.topic_arn, "test"
        ),
        index_name=DISPATCH_INDEX_NAME,
        clock=clock,
        **kwargs,
    )


def crash_at(monkeypatch, clock, step: str) -> None:
    """Kill the request right after the write ("send_audit"), after the queue send
    ("publish_event") or after the publish ("mark_dispatch_complete")."""

    def die(*args, **kwargs):
        raise Crash(step)

    target = clock.creator._store if step == "mark_dispatch_complete" else clock.creator._dispatcher
    monkeypatch.setattr(target, step, die)


def create_crashing(monkeypatch, clock, step: str, key: str = "key-1", **body) -> None:
    with monkeypatch.context() as patch:
        crash_at(patch, clock, step)
        with pytest.raises(Crash):
            create(api_event(valid_body(**body), idempotency_key=key))


def event_ids(aws) -> list[str]:
    return [json.loads(m["Body"])["event_id"] for m in aws.topic_messages()]


def audit_ids(aws) -> list[str]:
    return [json.loads(m["Body"])["transaction_id"] for m in aws.audit_messages()]


def run(clock, aws, **kwargs):
    return reconciler_at(clock, aws, **kwargs).run()


@pytest.mark.parametrize("step", ["send_audit", "publish_event", "mark_dispatch_complete"])
def test_a_crash_is_converged_by_the_reconciler_without_a_client_retry(aws, clock, monkeypatch, step):
    create_crashing(monkeypatch, clock, step)
    [transaction] = aws.transaction_items()
    txn = transaction["transaction_id"]["S"]
    clock.now += 31  # past the request's lease
    report = run(clock, aws)
    assert (report.stranded, report.reconciled) == (1, 1)
    assert audit_ids(aws) == [txn]  # a repeated audit message is dropped by FIFO deduplication
    assert set(event_ids(aws)) == {txn}  # after the publish, SNS may carry it twice: one event id
    assert run(clock, aws).stranded == 0


@pytest.mark.parametrize("step", ["send_audit", "publish_event", "mark_dispatch_complete"])
def test_a_client_retry_after_reconciliation_gets_the_original_201(aws, clock, monkeypatch, step):
    create_crashing(monkeypatch, clock, step)
    clock.now += 31
    run(clock, aws)
    retry = create(api_event(valid_body()))
    assert retry["statusCode"] == 201 and retry["headers"]["Idempotent-Replayed"] == "true"
    assert body_of(retry)["transaction_id"] == aws.transaction_items()[0]["transaction_id"]["S"]
    assert len(aws.transaction_items()) == 1


def test_a_request_still_inside_its_lease_is_left_alone(aws, clock, monkeypatch):
    create_crashing(monkeypatch, clock, "send_audit")
    clock.now += 5
    report = run(clock, aws)
    assert (report.stranded, report.reconciled) == (0, 0)
    assert aws.audit_messages() == []


def test_an_incomplete_dispatch_is_reconciled_at_once(aws, clock):
    fail_once(aws_clients.client("sqs"), "sqs.SendMessage", "ServiceUnavailable", 503)
    assert create(api_event(valid_body()))["statusCode"] == 503
    report = run(clock, aws)  # no time passes
    assert report.reconciled == 1
    assert len(aws.audit_messages()) == 1 and len(aws.topic_messages()) == 1


def test_completed_requests_never_reach_the_reconciler(aws, clock):
    assert create(api_event(valid_body()))["statusCode"] == 201
    clock.now += 3600
    assert run(clock, aws).stranded == 0


def test_overlapping_runs_dispatch_each_transaction_once(aws, clock, monkeypatch):
    for n in range(6):
        create_crashing(monkeypatch, clock, "send_audit", key=f"key-{n}", merchant_reference=f"order-{n}")
    clock.now += 31
    reports = []
    barrier = threading.Barrier(3)

    def one_run():
        barrier.wait()
        reports.append(run(clock, aws))

    with serialized_moto_transactions(monkeypatch):
        threads = [threading.Thread(target=one_run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)  # a run can take long on a busy machine (the parallel suite): wait for all
    assert not any(thread.is_alive() for thread in threads) and len(reports) == 3
    assert sum(r.reconciled for r in reports) == 6
    assert sorted(audit_ids(aws)) == sorted(t["transaction_id"]["S"] for t in aws.transaction_items())
    assert len(event_ids(aws)) == 6


def test_work_per_run_is_bounded_and_the_rest_waits_for_the_next_run(aws, clock, monkeypatch):
    for n in range(3):
        create_crashing(monkeypatch, clock, "send_audit", key=f"key-{n}", merchant_reference=f"order-{n}")
    clock.now += 31
    first = run(clock, aws, max_records=2)
    assert (first.reconciled, first.deferred) == (2, 1)
    assert run(clock, aws, max_records=2).reconciled == 1


def test_the_oldest_stranded_age_is_measured_from_the_transaction(aws, clock, monkeypatch):
    create_crashing(monkeypatch, clock, "send_audit")
    clock.now += 95
    assert run(clock, aws).oldest_age_seconds == 95


def _poison(aws, record_id: str, **attributes) -> None:
    item = {
        "transaction_id": {"S": record_id},
        "timestamp": {"N": "0"},
        "record_type": {"S": "idempotency_key"},
        "dispatch_pending": {"S": "pending-0"},
        "lease_expires_at": {"N": "0"},
        "target_timestamp": {"N": "1"},
    }
    item.update(attributes)
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item)


def test_a_poisoned_record_is_quarantined_and_named_without_blocking_the_batch(aws, clock, monkeypatch, capsys):
    _poison(aws, "idem_poisoned_unparseable")
    _poison(
        aws,
        "idem_poisoned_orphan",
        client_id={"S": "apikey:client-a"},
        request_fingerprint={"S": "x"},
        target_transaction_id={"S": "txn_" + "a" * 24},
        dispatch_state={"S": "dispatching"},
        audit_sent={"BOOL": False},
        event_published={"BOOL": False},
        response_body={"S": "{}"},
    )
    create_crashing(monkeypatch, clock, "send_audit")
    clock.now += 31
    report = run(clock, aws)
    assert (report.quarantined, report.reconciled) == (2, 1)
    out = capsys.readouterr().out
    assert "idem_poisoned_unparseable" in out and "record_unparseable" in out
    assert "idem_poisoned_orphan" in out and "transaction_missing" in out
    assert run(clock, aws).stranded == 0  # never retried forever
    quarantined = aws.dynamodb.get_item(
        TableName=TABLE_NAME, Key={"transaction_id": {"S": "idem_poisoned_orphan"}, "timestamp": {"N": "0"}}
    )["Item"]
    assert quarantined["dispatch_quarantined"]["S"] == "transaction_missing"


def test_a_queue_outage_keeps_the_record_stranded_with_progress_and_never_quarantines_it(aws, clock, monkeypatch):
    create_crashing(monkeypatch, clock, "send_audit")
    clock.now += 31
    for _ in range(7):
        fail_once(aws_clients.client("sns"), "sns.Publish", "ServiceUnavailable", 503)
        report = run(clock, aws)
        assert (report.failed, report.quarantined) == (1, 0)
    assert run(clock, aws).reconciled == 1
    assert len(aws.audit_messages()) == 1 and len(aws.topic_messages()) == 1


def test_the_handler_reports_metrics_in_embedded_metric_format_and_logs_no_card_data(aws, clock, monkeypatch, capsys):
    create_crashing(monkeypatch, clock, "send_audit")
    clock.now += 31

    class Context:
        function_name = "transaction-reconciler-test"
        aws_request_id = "sched-1"

        def get_remaining_time_in_millis(self):
            return 60_000

    summary = reconciler.handler({"source": "aws.scheduler"}, Context())
    assert summary["reconciled"] == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [metrics] = [line for line in lines if line.get("event") == "reconciler.run"]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Payments/Reconciler"
    assert isinstance(metrics["_aws"]["Timestamp"], int)
    assert (metrics["StrandedTransactions"], metrics["ReconciledTransactions"]) == (1, 1)
    assert "OldestStrandedAgeSeconds" in metrics
    assert VISA not in json.dumps(lines)


class _Deadline:
    """A Lambda context whose deadline is the deployed 10 s timeout: short enough that the lease is
    sized from the time left (a fractional millisecond count before the fix)."""

    function_name = "transaction-reconciler-test"
    aws_request_id = "sched-deadline"

    def get_remaining_time_in_millis(self):
        return 10_000


def test_under_a_real_deadline_a_stranded_dispatch_is_completed_not_quarantined(aws, clock, monkeypatch):
    create_crashing(monkeypatch, clock, "send_audit")
    [transaction] = aws.transaction_items()
    clock.now += 31
    fail_once(aws_clients.client("sqs"), "sqs.SendMessage", "ServiceUnavailable", 503)
    first = reconciler.handler({"source": "aws.scheduler"}, _Deadline())  # claims, then the send fails
    assert (first["failed"], first["quarantined"]) == (1, 0)
    second = reconciler.handler({"source": "aws.scheduler"}, _Deadline())
    assert (second["reconciled"], second["quarantined"]) == (1, 0)
    assert audit_ids(aws) == [transaction["transaction_id"]["S"]]
    [record] = [i for i in aws.table_items() if i["transaction_id"]["S"].startswith("idem_")]
    assert "dispatch_quarantined" not in record
    assert int(record["lease_expires_at"]["N"]) == 0


def test_a_fractional_millisecond_value_is_refused_at_write_time():
    from payments_platform.runtime.record_codec import epoch_ms_value

    assert epoch_ms_value(1_796_174_950_868) == {"N": "1796174950868"}
    for bad in (1796174950868.8892, True, "1"):
        with pytest.raises(TypeError, match="epoch milliseconds must be an int"):
            epoch_ms_value(bad)
