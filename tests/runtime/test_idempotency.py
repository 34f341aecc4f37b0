import json
import threading

import pytest

from payments_platform.runtime import aws_clients, transactions
from payments_platform.runtime.dispatch import TransactionDispatcher

from .support import (
    TABLE_NAME,
    FakeClock,
    api_event,
    body_of,
    count_calls,
    create,
    creator_with_clock,
    fail_once,
    serialized_moto_transactions,
    valid_body,
)


@pytest.fixture
def clock(aws, monkeypatch):
    """The handler's creator with a controllable clock (lease expiry without sleeping)."""
    fake = FakeClock()
    creator = creator_with_clock(aws, fake)
    monkeypatch.setattr(transactions, "transaction_creator", lambda: creator)
    return fake


def after_lease(clock):
    clock.now += 31


def test_same_key_and_body_replays_the_original_response_and_writes_nothing(aws, clock):
    first = create(api_event(valid_body()))
    after_lease(clock)
    calls = count_calls(aws_clients.client("dynamodb"), aws_clients.client("sqs"), aws_clients.client("sns"))
    replay = create(api_event(valid_body()))
    assert replay["statusCode"] == 201
    assert replay["headers"]["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first["headers"]
    assert replay["body"] == first["body"]
    assert calls == ["dynamodb.TransactWriteItems"]  # the failed conditional write is the only call
    assert len(aws.transaction_items()) == 1
    assert len(aws.audit_messages()) == 1 and len(aws.topic_messages()) == 1


def test_a_replay_right_after_the_201_is_a_201(aws, clock):
    first = create(api_event(valid_body()))
    replay = create(api_event(valid_body()))  # no time passes: the lease has not expired
    assert (first["statusCode"], replay["statusCode"]) == (201, 201)
    assert replay["headers"]["Idempotent-Replayed"] == "true"
    assert replay["body"] == first["body"]
    assert len(aws.transaction_items()) == 1
    assert len(aws.audit_messages()) == 1 and len(aws.topic_messages()) == 1


def test_the_idempotency_record_reads_complete_after_the_201(aws, clock):
    create(api_event(valid_body()))
    [record] = [item for item in aws.table_items() if item["record_type"]["S"] == "idempotency_key"]
    assert record["dispatch_state"]["S"] == "complete"
    assert record["audit_sent"]["BOOL"] and record["event_published"]["BOOL"]


def test_a_failure_to_record_completion_still_answers_201_and_replays_after_the_lease(aws, clock):
    fail_once(aws_clients.client("dynamodb"), "dynamodb.UpdateItem", "ServiceUnavailable", 503)
    first = create(api_event(valid_body()))
    assert first["statusCode"] == 201 and "Idempotent-Replayed" not in first["headers"]
    assert create(api_event(valid_body()))["statusCode"] == 409  # still "dispatching", lease running
    after_lease(clock)
    replay = create(api_event(valid_body()))
    assert replay["statusCode"] == 201 and replay["body"] == first["body"]
    assert len(aws.audit_messages()) == 1 and len(aws.topic_messages()) == 1


def test_replay_ignores_field_order_and_whitespace(aws, clock):
    body = valid_body()
    first = create(api_event(body))
    after_lease(clock)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    assert create(api_event(raw_body=reordered))["body"] == first["body"]


def test_same_key_with_a_different_body_is_422(aws, clock):
    create(api_event(valid_body()))
    after_lease(clock)
    response = create(api_event(valid_body(amount=999)))
    assert response["statusCode"] == 422
    assert body_of(response)["error"]["code"] == "idempotency_key_reused"
    assert len(aws.transaction_items()) == 1


def test_a_different_card_with_the_same_key_is_422(aws, clock):
    create(api_event(valid_body()))
    after_lease(clock)
    other_card = valid_body(card={**valid_body()["card"], "number": "4000056655665556"})
    assert create(api_event(other_card))["statusCode"] == 422


def test_the_same_key_from_another_client_is_an_independent_transaction(aws, clock):
    a = body_of(create(api_event(valid_body(), api_key_id="client-a")))
    b = body_of(create(api_event(valid_body(), api_key_id="client-b")))
    assert a["transaction_id"] != b["transaction_id"]
    assert len(aws.transaction_items()) == 2


def test_a_duplicate_arriving_while_the_first_is_in_flight_is_409(aws, clock, monkeypatch):
    seen = {}
    original = TransactionDispatcher.send_audit

    def send_audit_with_duplicate(self, transaction, request_id):
        seen["duplicate"] = create(api_event(valid_body()))
        return original(self, transaction, request_id)

    monkeypatch.setattr(TransactionDispatcher, "send_audit", send_audit_with_duplicate)
    first = create(api_event(valid_body()))
    assert first["statusCode"] == 201
    duplicate = seen["duplicate"]
    assert duplicate["statusCode"] == 409
    assert body_of(duplicate)["error"]["code"] == "idempotency_request_in_progress"
    assert 1 <= int(duplicate["headers"]["Retry-After"]) <= 30


def test_the_lease_is_bounded_by_the_invocation_time_left(aws, clock):
    # Completion goes unrecorded, so only the lease tells a retry that the first request is over.
    fail_once(aws_clients.client("dynamodb"), "dynamodb.UpdateItem", "ServiceUnavailable", 503)

    class ShortContext:
        function_name = "f"
        aws_request_id = "r"

        def get_remaining_time_in_millis(self):
            return 9_000  # the clients' attempts (4 s at most) still fit

    transactions.handler(api_event(valid_body()), ShortContext())
    in_flight = create(api_event(valid_body()))
    assert in_flight["statusCode"] == 409 and in_flight["headers"]["Retry-After"] == "10"
    clock.now += 10.1
    assert create(api_event(valid_body()))["statusCode"] == 201


def test_concurrent_requests_with_one_key_produce_exactly_one_transaction(aws, monkeypatch):
    with serialized_moto_transactions(monkeypatch):
        create(api_event(valid_body(), idempotency_key="warm"))  # build clients before the race
        barrier = threading.Barrier(8)
        responses = []

        def worker():
            barrier.wait()
            responses.append(create(api_event(valid_body(), idempotency_key="race")))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    statuses = sorted(r["statusCode"] for r in responses)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    created = {body_of(r)["transaction_id"] for r in responses if r["statusCode"] == 201}
    assert len(created) == 1
    race_items = [i for i in aws.transaction_items() if i["transaction_id"]["S"] in created]
    assert len(aws.transaction_items()) == 2 and len(race_items) == 1
    assert len(aws.audit_messages()) == 2 and len(aws.topic_messages()) == 2


@pytest.mark.parametrize("failing", ["sqs.SendMessage", "sns.Publish"])
def test_partial_failure_is_retryable_and_a_retry_completes_it_once(aws, clock, failing):
    service = failing.split(".")[0]
    fail_once(aws_clients.client(service), failing, "ServiceUnavailable", 503)
    failed = create(api_event(valid_body()))
    assert failed["statusCode"] == 503
    assert failed["headers"]["Retry-After"] == "1"
    assert body_of(failed)["error"]["code"] == "dispatch_incomplete"
    [record] = aws.transaction_items()

    retried = create(api_event(valid_body()))
    assert retried["statusCode"] == 201
    assert retried["headers"]["Idempotent-Replayed"] == "true"
    assert body_of(retried)["transaction_id"] == record["transaction_id"]["S"]
    assert len(aws.transaction_items()) == 1
    assert len(aws.audit_messages()) == 1
    assert len(aws.topic_messages()) == 1

    after_lease(clock)
    again = create(api_event(valid_body()))
    assert again["statusCode"] == 201 and again["body"] == retried["body"]
    assert aws.audit_messages() == [] and aws.topic_messages() == []


def test_a_retry_that_fails_again_stays_retryable_and_converges_later(aws, clock):
    fail_once(aws_clients.client("sns"), "sns.Publish", "ThrottlingException", times=2)
    assert create(api_event(valid_body()))["statusCode"] == 503
    assert create(api_event(valid_body()))["statusCode"] == 503
    final = create(api_event(valid_body()))
    assert final["statusCode"] == 201
    assert len(aws.transaction_items()) == 1
    assert len(aws.audit_messages()) == 1 and len(aws.topic_messages()) == 1


def test_resending_the_audit_message_is_deduplicated_by_the_fifo_queue(aws, clock):
    # The SQS call may succeed while its response is lost; the retry sends it again.
    fail_once(aws_clients.client("sns"), "sns.Publish", "ServiceUnavailable", 503)
    create(api_event(valid_body()))
    record_key = next(i for i in aws.table_items() if i["record_type"]["S"] == "idempotency_key")["transaction_id"]
    aws.dynamodb.update_item(
        TableName=TABLE_NAME,
        Key={"transaction_id": record_key, "timestamp": {"N": "0"}},
        UpdateExpression="SET audit_sent = :f",
        ExpressionAttributeValues={":f": {"BOOL": False}},
    )
    assert create(api_event(valid_body()))["statusCode"] == 201
    assert len(aws.audit_messages()) == 1


def test_a_retried_write_that_had_committed_is_the_request_s_own_201_not_a_409(aws, clock):
    store = transactions.transaction_creator()._store
    original = store.create

    def committed_then_retried(*args, **kwargs):
        original(*args, **kwargs)  # the first attempt commits, its response is lost ...
        original(*args, **kwargs)  # ... and the retry finds the record it wrote

    store.create = committed_then_retried
    response = create(api_event(valid_body()))
    assert response["statusCode"] == 201 and "Idempotent-Replayed" not in response["headers"]
    assert len(aws.transaction_items()) == 1
    assert len(aws.audit_messages()) == 1 and len(aws.topic_messages()) == 1
