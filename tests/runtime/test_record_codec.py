"""One codec for every record the runtime writes and reads: whatever the processor can write --
including under a real, fractional invocation deadline -- every reader reads back identically
(processor replay, reconciler, status); what no reader could read is refused at write time; a record
that does not read back is a loud, alarmed error, never a silent skip."""

from __future__ import annotations

import itertools
import json
import string
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments_platform.runtime import aws_clients
from payments_platform.runtime.dispatch import TransactionDispatcher
from payments_platform.runtime.idempotency import DispatchState, IdempotencyRecord, lease_ms_for
from payments_platform.runtime.reconciler import TransactionReconciler
from payments_platform.runtime.record_codec import RecordRefused, RecordUnparseable
from payments_platform.runtime.redaction import contains_card_data
from payments_platform.runtime.transaction_records import (
    Transaction,
    idempotency_item,
    idempotency_record_from_item,
)
from payments_platform.runtime.transaction_store import TransactionStore

from .support import (
    DISPATCH_INDEX_NAME,
    TABLE_NAME,
    api_event,
    aws_environment,
    body_of,
    create,
    fail_once,
    read,
    status_event,
    valid_body,
)

EPOCH_MS = st.integers(min_value=0, max_value=4_102_444_800_000)  # to 2100
# The writers refuse card data (tests/runtime/test_card_data_policy.py): what reads back is the rest.
TEXT = st.text(max_size=40).filter(lambda text: not contains_card_data(text))
TRANSACTION_IDS = st.from_regex(r"\Atxn_[a-z2-7]{24}\Z").filter(lambda text: not contains_card_data(text))
KEYS = itertools.count()


def wire(item: dict) -> dict:
    """What DynamoDB hands back: the item through JSON, as the wire carries it."""
    return json.loads(json.dumps(item))


transactions = st.builds(
    Transaction,
    transaction_id=TRANSACTION_IDS,
    created_at_ms=EPOCH_MS,
    client_id=TEXT,
    status=st.sampled_from(["received", "processing", "authorized", "declined", "failed"]),
    amount=st.integers(min_value=0, max_value=10**12),
    currency=st.sampled_from(["EUR", "USD", "JPY"]),
    merchant_reference=TEXT,
    card_brand=st.sampled_from(["visa", "mastercard", "amex"]),
    card_last4=st.from_regex(r"\A\d{4}\Z"),
    card_fingerprint=TEXT,
    idempotency_record_id=TEXT,
    description=st.none() | TEXT,
    metadata=st.none() | st.dictionaries(TEXT, TEXT, min_size=1, max_size=4),
    card_fingerprint_key_version=TEXT,
)


@st.composite
def idempotency_records(draw) -> IdempotencyRecord:
    now_ms = draw(EPOCH_MS)
    # What a real invocation measures: fractional milliseconds left (or no deadline at all).
    remaining = draw(st.none() | st.floats(min_value=-5.0, max_value=900_000.0, allow_nan=False))
    return IdempotencyRecord(
        record_id="idem_" + draw(st.text(string.hexdigits, min_size=1, max_size=64)),
        client_id=draw(TEXT),
        request_fingerprint=draw(TEXT),
        transaction_id=draw(TRANSACTION_IDS),
        transaction_timestamp=now_ms,
        dispatch_state=draw(st.sampled_from(DispatchState)),
        audit_sent=draw(st.booleans()),
        event_published=draw(st.booleans()),
        lease_expires_at_ms=now_ms + lease_ms_for(remaining),
        response_body=draw(TEXT),
        request_id=draw(TEXT),
        reconcile_attempts=draw(st.integers(min_value=0, max_value=50)),
        key_version=draw(TEXT),
    )


@settings(max_examples=300, deadline=None)
@given(transactions)
def test_a_transaction_reads_back_as_written(transaction):
    assert Transaction.from_item(wire(transaction.to_item())) == transaction


@settings(max_examples=300, deadline=None)
@given(idempotency_records())
def test_an_idempotency_record_written_under_any_deadline_reads_back_as_written(record):
    assert idempotency_record_from_item(wire(idempotency_item(record, record.transaction_timestamp))) == record


@pytest.mark.parametrize(
    "field, value",
    [("lease_expires_at_ms", 1796174950868.8892), ("lease_expires_at_ms", True), ("transaction_timestamp", "1")],
)
def test_a_value_no_reader_could_read_is_refused_at_write_time(field, value):
    record = IdempotencyRecord("idem_x", "c", "f", "txn_x", 1, DispatchState.DISPATCHING, False, False, 2, "{}")
    with pytest.raises(RecordRefused):
        idempotency_item(IdempotencyRecord(**{**record.__dict__, field: value}), 1)


@pytest.mark.parametrize(
    "field, stored, reason",
    [
        ("lease_expires_at", {"N": "1796174950868.8892"}, "not a whole number"),
        ("audit_sent", {"S": "true"}, "expected DynamoDB type BOOL"),
        ("dispatch_state", {"S": "sent"}, "not one of the known values"),
        ("client_id", None, "missing"),
    ],
)
def test_a_record_that_does_not_read_back_names_the_record_and_the_field(field, stored, reason):
    record = IdempotencyRecord("idem_x", "c", "f", "txn_x", 1, DispatchState.DISPATCHING, False, False, 2, "{}")
    item = idempotency_item(record, 1)
    if stored is None:
        del item[field]
    else:
        item[field] = stored
    with pytest.raises(RecordUnparseable) as raised:
        idempotency_record_from_item(item)
    assert (raised.value.record_key, raised.value.field) == ("idem_x", field) and reason in raised.value.reason


class FractionalDeadline:
    """A Lambda context as the runtime client reports it: fractional milliseconds left."""

    function_name = "payments-test-transactions"

    def __init__(self, remaining_ms: float) -> None:
        self.remaining_ms = remaining_ms
        self.aws_request_id = f"req-{next(KEYS)}"

    def get_remaining_time_in_millis(self) -> float:
        return self.remaining_ms


def test_every_reader_reads_what_the_processor_wrote_under_a_fractional_deadline(monkeypatch, capsys):
    """The processor writes the record under the deadline; its completion update fails so the record
    keeps the lease it took; then the replay, the status read and the reconciler each read it."""
    from payments_platform.runtime import transactions as transactions_handler

    with aws_environment(monkeypatch) as aws:
        reconciler = TransactionReconciler(
            store=TransactionStore(aws_clients.client("dynamodb"), TABLE_NAME),
            dispatcher=TransactionDispatcher(
                aws_clients.client("sqs"), aws_clients.client("sns"), aws.audit_queue_url, aws.topic_arn, "test"
            ),
            index_name=DISPATCH_INDEX_NAME,
            clock=lambda: time.time() + 120,  # past any lease the processor took
        )

        @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            remaining=st.floats(min_value=5_000.0, max_value=30_000.0, allow_nan=False),
            amount=st.integers(min_value=1, max_value=100_000_000),
            description=st.none() | st.text(string.ascii_letters, min_size=1, max_size=30),
        )
        def check(remaining, amount, description):
            key = f"codec-{next(KEYS)}"
            body = valid_body(amount=amount, **({"description": description} if description else {}))
            unconsumed = fail_once(aws_clients.client("dynamodb"), "dynamodb.UpdateItem", "InternalServerError", 500)
            created = transactions_handler.handler(api_event(body, idempotency_key=key), FractionalDeadline(remaining))
            consumed, unconsumed[0] = unconsumed == [0], 0  # a leftover failure must not hit the next example
            assert created["statusCode"] == 201 and consumed, created["body"]
            # Replay: inside the lease the processor reads the record and answers 409, never a 500.
            replay = create(api_event(body, idempotency_key=key))
            assert replay["statusCode"] == 409, replay["body"]
            # Status: the projection reads the transaction back as the 201 answered it.
            transaction_id = body_of(created)["transaction_id"]
            assert body_of(read(status_event(transaction_id))) == body_of(created)
            # Reconciler: reads the record and completes it; nothing unparseable, nothing quarantined.
            report = reconciler.run()
            assert (report.reconciled, report.unparseable, report.quarantined) == (1, 0, 0)
            assert report.reconciled_transaction_ids == [transaction_id]

        check()
        assert "record.unparseable" not in capsys.readouterr().out


def test_an_unparseable_record_is_a_critical_log_line_and_a_metric_not_a_silent_quarantine(aws, capsys):
    aws.dynamodb.put_item(
        TableName=TABLE_NAME,
        Item={
            "transaction_id": {"S": "idem_broken"},
            "timestamp": {"N": "0"},
            "dispatch_pending": {"S": "pending-0"},
            "lease_expires_at": {"N": "0"},
            "target_timestamp": {"N": "1"},
        },
    )
    reconciler = TransactionReconciler(
        store=TransactionStore(aws_clients.client("dynamodb"), TABLE_NAME),
        dispatcher=TransactionDispatcher(
            aws_clients.client("sqs"), aws_clients.client("sns"), aws.audit_queue_url, aws.topic_arn, "test"
        ),
        index_name=DISPATCH_INDEX_NAME,
    )
    report = reconciler.run()
    assert (report.unparseable, report.quarantined) == (1, 1)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [critical] = [line for line in lines if line.get("level") == "critical"]
    assert critical["event"] == "record.unparseable" and critical["record_key"] == "idem_broken"
    assert critical["field"] == "client_id" and critical["reader"] == "reconciler"
    [metric] = [line for line in lines if "_aws" in line and "UnparseableRecords" in line]
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Payments/Records"
    assert metric["UnparseableRecords"] == 1


def _unparseable_lines(out: str) -> list[dict]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "record.unparseable"]


def test_a_replay_that_meets_an_unparseable_record_is_a_500_and_alarmed(aws, capsys):
    created = create(api_event(valid_body(), idempotency_key="broken-replay"))
    assert created["statusCode"] == 201
    [record] = [i for i in aws.table_items() if i["transaction_id"]["S"].startswith("idem_")]
    aws.dynamodb.update_item(
        TableName=TABLE_NAME,
        Key={"transaction_id": record["transaction_id"], "timestamp": {"N": "0"}},
        UpdateExpression="SET lease_expires_at = :fractional",
        ExpressionAttributeValues={":fractional": {"N": "1796174950868.8892"}},
    )
    capsys.readouterr()
    replay = create(api_event(valid_body(), idempotency_key="broken-replay"))
    assert replay["statusCode"] == 500 and body_of(replay)["error"]["code"] == "internal_error"
    [critical, metric] = _unparseable_lines(capsys.readouterr().out)
    assert (critical["level"], critical["field"], critical["reader"]) == (
        "critical",
        "lease_expires_at",
        "create_transaction",
    )
    assert metric["UnparseableRecords"] == 1


def test_a_status_read_of_an_unparseable_transaction_is_a_500_and_alarmed(aws, capsys):
    transaction_id = body_of(create(api_event(valid_body(), idempotency_key="broken-status")))["transaction_id"]
    [item] = aws.transaction_items()
    aws.dynamodb.update_item(
        TableName=TABLE_NAME,
        Key={"transaction_id": item["transaction_id"], "timestamp": item["timestamp"]},
        UpdateExpression="SET amount = :text",
        ExpressionAttributeValues={":text": {"S": "1250"}},
    )
    capsys.readouterr()
    response = read(status_event(transaction_id))
    assert response["statusCode"] == 500
    [critical, _metric] = _unparseable_lines(capsys.readouterr().out)
    assert (critical["field"], critical["reader"], critical["record_key"]) == ("amount", "read_status", transaction_id)
