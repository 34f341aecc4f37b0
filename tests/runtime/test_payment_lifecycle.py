"""The transaction lifecycle through a payment connector (issue #28): received -> processing ->
authorized | declined | failed, each transition one conditional write, one audit message and one
event; POST answers the outcome within the budget, else 202 processing and the reconciler settles it
by the connector's status query -- never a second authorization."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from payments_platform.runtime import reconciler, transactions
from payments_platform.runtime.acquirer_simulator import SLOW_CARD
from payments_platform.runtime.redaction import contains_card_data
from payments_platform.runtime.transaction_records import Transaction

from .connector_support import InProcessConnector, create_ledger
from .connector_support import creator as connector_creator
from .connector_support import reconciler as connector_reconciler
from .support import FakeClock, api_event, body_of, create, read, status_event, valid_body

# card -> (HTTP status, transaction status, decline code): the simulator's documented outcomes.
TEST_CARDS = {
    "4242424242424242": (201, "authorized", None),
    "4000000000000002": (201, "declined", "generic_decline"),
    "4000000000009995": (201, "declined", "insufficient_funds"),
    "4000000000000069": (201, "declined", "expired_card"),
    "4000000000000127": (201, "declined", "incorrect_cvc"),
    "4000000000000119": (201, "failed", "processing_error"),
    SLOW_CARD: (202, "processing", None),
}
CVC = "987"


# The runtime's HMAC digests (record ids, fingerprints): 64 hex digits hold a Luhn-valid run by chance.
DERIVED_ID = re.compile(r"(?:idem_|cfp_)?[0-9a-f]{64}")


def item_strings(value) -> list[str]:
    """The S values of DynamoDB items (card data is only ever written as a string; numbers are the
    platform's own epoch-ms timestamps), less the HMAC digests."""
    if isinstance(value, str):
        return [] if DERIVED_ID.fullmatch(value) else [value]
    if isinstance(value, dict):
        return [t for key, inner in value.items() if key not in ("N", "NS") for t in item_strings(inner)]
    if isinstance(value, list):
        return [t for inner in value for t in item_strings(inner)]
    return []


class Crash(BaseException):
    """The processor dying mid-request: nothing after it runs."""


@pytest.fixture
def payments(aws, monkeypatch):
    create_ledger(aws.dynamodb)
    clock = FakeClock()
    connector = InProcessConnector(aws.dynamodb)
    built = connector_creator(aws, connector, clock)
    monkeypatch.setattr(transactions, "transaction_creator", lambda: built)
    return clock, connector, built


def pay(card: str, key: str = "key-1") -> dict:
    body = valid_body(card={"number": card, "exp_month": 12, "exp_year": 2040, "cvc": CVC})
    return create(api_event(body, idempotency_key=key))


def settle(aws, connector, clock):
    """A reconciler run once the transactions are past the grace left to their clients' retries."""
    clock.now += 31
    return connector_reconciler(aws, connector, clock).run()


def transitions(aws) -> tuple[list[str], list[tuple[str, str]]]:
    """(audit message types and dedup ids, event types and ids) sent so far."""
    audit = [(json.loads(m["Body"])["type"], m["Attributes"]["MessageDeduplicationId"]) for m in aws.audit_messages()]
    events = [(json.loads(m["Body"])["event_type"], json.loads(m["Body"])["event_id"]) for m in aws.topic_messages()]
    return audit, events


@pytest.mark.parametrize("card", sorted(TEST_CARDS))
def test_each_test_card_is_answered_with_its_documented_outcome(aws, payments, card):
    http_status, status, decline_code = TEST_CARDS[card]
    response = pay(card)
    assert response["statusCode"] == http_status
    answered = body_of(response)
    assert (answered["status"], answered.get("decline_code")) == (status, decline_code)
    assert read(status_event(answered["transaction_id"]))["statusCode"] == 200
    assert body_of(read(status_event(answered["transaction_id"]))) == answered


@pytest.mark.parametrize("card", sorted(c for c in TEST_CARDS if c != SLOW_CARD))
def test_each_transition_is_one_audit_message_and_one_event_of_its_type(aws, payments, card):
    transaction_id = body_of(pay(card))["transaction_id"]
    outcome = TEST_CARDS[card][1]
    audit, events = transitions(aws)
    assert audit == [
        ("transaction.created", transaction_id),
        ("transaction.processing", f"{transaction_id}.processing"),
        (f"transaction.{outcome}", f"{transaction_id}.{outcome}"),
    ]
    assert events == [
        ("payment.transaction.received", transaction_id),
        ("payment.transaction.processing", f"{transaction_id}.processing"),
        (f"payment.transaction.{outcome}", f"{transaction_id}.{outcome}"),
    ]


def test_an_answer_later_than_the_budget_is_202_processing_and_the_reconciler_settles_it(aws, payments):
    clock, connector, _ = payments
    response = pay(SLOW_CARD)
    assert response["statusCode"] == 202
    transaction_id = body_of(response)["transaction_id"]
    report = settle(aws, connector, clock)
    assert (report.resolved, report.unresolved) == (1, 0)
    settled = body_of(read(status_event(transaction_id)))
    assert settled["status"] == "authorized" and settled["acquirer_reference"].startswith("sim_")
    # Asked, never authorized again: one authorize, one status query, one ledger entry.
    assert connector.operations == ["authorize", "status"]
    assert [i["recorded_by"]["S"] for i in connector.ledger()] == ["authorize"]
    audit, events = transitions(aws)
    assert [e for e, _ in events] == [
        "payment.transaction.received",
        "payment.transaction.processing",
        "payment.transaction.authorized",
    ]
    assert len(audit) == 3
    assert settle(aws, connector, clock).stranded == 0


def test_a_client_retry_never_authorizes_twice(aws, payments):
    clock, connector, _ = payments
    first = pay("4000000000009995")
    again = pay("4000000000009995")
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert body_of(again) == body_of(first) and again["statusCode"] == 201
    assert connector.operations == ["authorize"] and len(connector.ledger()) == 1
    assert len(aws.transaction_items()) == 1


def test_a_retry_while_processing_asks_for_the_outcome_and_never_authorizes_again(aws, payments):
    clock, connector, _ = payments
    assert pay(SLOW_CARD)["statusCode"] == 202
    retry = pay(SLOW_CARD)
    assert retry["statusCode"] == 201 and body_of(retry)["status"] == "authorized"
    assert connector.operations == ["authorize", "status"]  # the outcome unknown: asked for, never re-sent
    [entry] = connector.ledger()
    assert entry["recorded_by"]["S"] == "authorize"


@pytest.mark.parametrize("fault", ["unreachable", "error_before", "error_after"])
def test_a_connector_failing_leaves_processing_until_its_status_query_answers(aws, payments, fault):
    clock, connector, _ = payments
    connector.fault = fault
    response = pay("4242424242424242")
    assert (response["statusCode"], body_of(response)["status"]) == (202, "processing")
    report = settle(aws, connector, clock)  # still failing: asked again next run
    assert (report.resolved, report.unresolved) == (0, 1)
    connector.fault = None
    assert settle(aws, connector, clock).resolved == 1
    settled = body_of(read(status_event(body_of(response)["transaction_id"])))
    if fault == "error_after":  # it had authorized before failing: the ledger says so
        assert (settled["status"], settled.get("decline_code")) == ("authorized", None)
    else:  # it never authorized: failed, not_submitted -- and a late authorize gets the same
        assert (settled["status"], settled["decline_code"]) == ("failed", "not_submitted")
    assert len(connector.ledger()) == 1


def test_a_status_answer_is_final_for_an_authorize_still_in_flight(aws, payments):
    """The reconciler asked first (the authorize had not reached the acquirer); the authorize
    arriving afterwards is answered from the ledger: not submitted, never authorized."""
    clock, connector, _ = payments
    connector.fault = "unreachable"
    transaction_id = body_of(pay("4242424242424242"))["transaction_id"]
    connector.fault = None
    settle(aws, connector, clock)
    late = connector(3000).invoke(
        FunctionName="acquirer-simulator-test",
        InvocationType="RequestResponse",
        Payload=json.dumps(
            {
                "protocol_version": "1",
                "operation": "authorize",
                "idempotency_key": transaction_id,
                "amount": 1250,
                "currency": "EUR",
                "card": {"number": "4242424242424242", "cvc": CVC, "exp_month": 12, "exp_year": 2040},
            }
        ).encode(),
    )
    assert json.loads(late["Payload"].read())["decline_code"] == "not_submitted"


def test_a_processor_killed_while_waiting_is_settled_by_the_reconciler(aws, payments, monkeypatch):
    clock, connector, built = payments

    def die(*args, **kwargs):
        raise Crash("killed mid-authorization")

    with monkeypatch.context() as patch:
        patch.setattr(built._lifecycle._connector, "ask", die)
        with pytest.raises(Crash):
            pay("4000000000000002")
    [item] = aws.transaction_items()
    assert item["status"]["S"] == "processing"  # written before the connector was asked
    assert settle(aws, connector, clock).resolved == 1  # past the request's lease
    assert Transaction.from_item(aws.transaction_items()[0]).status == "failed"  # never submitted
    assert connector.operations == ["status"]


def cut_short_before_asking(monkeypatch, built) -> None:
    def die(*args, **kwargs):
        raise Crash("killed before the processing transition")

    with monkeypatch.context() as patch:
        patch.setattr(built._lifecycle, "advance", die)
        with pytest.raises(Crash):
            pay("4242424242424242")


def test_a_retry_of_a_request_cut_short_before_asking_authorizes_it_once(aws, payments, monkeypatch):
    clock, connector, built = payments
    cut_short_before_asking(monkeypatch, built)
    assert pay("4242424242424242")["statusCode"] == 409  # inside the request's lease
    clock.now += 31
    retry = pay("4242424242424242")
    assert (retry["statusCode"], body_of(retry)["status"]) == (201, "authorized")
    assert connector.operations == ["authorize"] and len(connector.ledger()) == 1
    assert settle(aws, connector, clock).stranded == 0


def test_a_request_cut_short_before_asking_and_never_retried_fails_not_submitted(aws, payments, monkeypatch):
    """The reconciler holds no card: it asks, nothing was submitted, and that answer is final --
    a retry afterwards replays it (202 received is what a replay answered before: never an outcome)."""
    clock, connector, built = payments
    cut_short_before_asking(monkeypatch, built)
    clock.now += 31
    settle(aws, connector, clock)
    [item] = aws.transaction_items()
    settled = body_of(read(status_event(item["transaction_id"]["S"])))
    assert (settled["status"], settled["decline_code"]) == ("failed", "not_submitted")
    replay = pay("4242424242424242")
    assert (replay["statusCode"], body_of(replay)) == (201, settled)
    assert connector.operations == ["status"]


def test_a_replay_of_received_is_202_where_payments_are_processed():
    assert transactions.response_status('{"status":"received"}', processed=True) == 202
    assert transactions.response_status('{"status":"received"}', processed=False) == 201
    assert transactions.response_status('{"status":"declined"}', processed=True) == 201


def test_the_reconciler_leaves_a_fresh_transaction_and_a_retry_asks_never_re_sending_the_authorize(aws, payments):
    clock, connector, _ = payments
    connector.fault = "unreachable"
    assert pay("4242424242424242")["statusCode"] == 202
    connector.fault = None
    report = connector_reconciler(aws, connector, clock).run()  # the same second: not yet
    assert (report.resolved, report.unresolved) == (0, 1) and connector.operations == ["authorize"]
    # The client's retry holds the card, but the first authorize's fate is unknown: it asks. The
    # acquirer never saw it, so the key closes not_submitted -- the client pays again under a new key.
    retry = pay("4242424242424242")
    assert (retry["statusCode"], body_of(retry)["status"], body_of(retry)["decline_code"]) == (
        201,
        "failed",
        "not_submitted",
    )
    assert connector.operations == ["authorize", "status"]
    [entry] = connector.ledger()
    assert entry["recorded_by"]["S"] == "status"


def test_a_transaction_never_moves_backwards_nor_gets_a_second_outcome(aws, payments):
    _, _, built = payments
    pay("4242424242424242")
    authorized = Transaction.from_item(aws.transaction_items()[0])
    store, record_id = built._store, authorized.idempotency_record_id
    # A second outcome: the conditional write finds the transaction no longer processing.
    stale = dataclasses.replace(authorized, status="processing", acquirer_reference=None)
    declined = dataclasses.replace(stale, status="declined", decline_code="generic_decline")
    assert store.transition(stale, declined, record_id, 0) is False
    # Backwards, or on from an outcome: never written.
    for target in ("received", "processing", "declined"):
        with pytest.raises(ValueError, match="no transition"):
            store.transition(authorized, dataclasses.replace(authorized, status=target), record_id, 0)
    assert Transaction.from_item(aws.transaction_items()[0]) == authorized


def test_a_transition_that_committed_while_its_writer_saw_an_error_is_still_its_own(aws, payments):
    """botocore retries a TransactWriteItems that committed but answered 5xx (the emulator's
    error_after fault): the retry's condition fails on the write itself. That reads back as the
    writer's own move -- its audit message and event still go out -- never as another writer's."""
    _, _, built = payments
    pay("4000000000000002")
    declined = Transaction.from_item(aws.transaction_items()[0])
    processing = dataclasses.replace(declined, status="processing", decline_code=None, acquirer_reference=None)
    store, record_id = built._store, declined.idempotency_record_id
    assert store.transition(processing, declined, record_id, 0) is True  # the retry of our own write
    authorized = dataclasses.replace(processing, status="authorized", acquirer_reference="sim_other")
    assert store.transition(processing, authorized, record_id, 0) is False  # another outcome: not ours


def test_the_pan_and_cvc_reach_the_connector_and_nothing_else(aws, payments, capsys):
    clock, connector, _ = payments
    for n, card in enumerate(sorted(TEST_CARDS)):
        pay(card, key=f"key-{n}")
    settle(aws, connector, clock)
    responses = [json.dumps(body_of(pay(card, key=f"key-{n}"))) for n, card in enumerate(sorted(TEST_CARDS))]
    audit, events = [m["Body"] for m in aws.audit_messages()], [m["Body"] for m in aws.topic_messages()]
    stored = "\n".join(item_strings([*aws.table_items(), *connector.ledger()]))
    logs = capsys.readouterr().out  # the processor's, the reconciler's and the connector's log lines
    assert "simulator.authorize" in logs  # the connector logged, through the platform's structlog
    for where, text in [
        ("responses", responses),
        ("audit", audit),
        ("events", events),
        ("tables", [stored]),
        ("logs", [logs]),
    ]:
        for card in TEST_CARDS:
            assert not any(card in t for t in text), f"a PAN in the {where}"
        assert not any(f'"{CVC}"' in t or f"cvc={CVC}" in t for t in text), f"the CVC in the {where}"
        assert not any(contains_card_data(t) for t in text if where != "logs"), f"card data in the {where}"


def test_intake_only_stays_received_as_before(aws, monkeypatch):
    monkeypatch.delenv("CONNECTOR_FUNCTION_NAME", raising=False)
    response = create(api_event(valid_body()))
    assert response["statusCode"] == 201 and body_of(response)["status"] == "received"
    assert reconciler.transaction_reconciler()._lifecycle is None
