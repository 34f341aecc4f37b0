"""Every payment event type has a published, versioned JSON Schema (docs/events/, Draft 2020-12),
and what the runtime publishes is valid against it -- read back from the topic, as a subscriber
receives it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from payments_platform.plugins.messaging.plugin import EVENT_TYPE_ATTRIBUTE, PAYMENT_EVENT_TYPES
from payments_platform.runtime import transactions
from payments_platform.runtime.dispatch import TransactionDispatcher
from payments_platform.runtime.transaction_records import EVENT_TYPE_RECEIVED, TRANSACTION_STATUSES, event_type

from .connector_support import InProcessConnector, create_ledger
from .connector_support import creator as connector_creator
from .support import VISA, FakeClock, api_event, body_of, create, valid_body

EVENTS = Path(__file__).resolve().parents[2] / "docs" / "events"
SCHEMA_FILE = re.compile(r"^(?P<type>payment\.transaction\.[a-z]+)\.v(?P<version>[1-9][0-9]*)\.schema\.json$")


def schema_files() -> dict[str, Path]:
    return {path.name: path for path in sorted(EVENTS.glob("*.json"))}


def validator(event_type: str, version: int = 1) -> Draft202012Validator:
    schema = json.loads((EVENTS / f"{event_type}.v{version}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(event_type: str, event: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(event_type).iter_errors(event)]


@pytest.mark.parametrize("name", sorted(schema_files()))
def test_each_schema_is_a_valid_draft_2020_12_schema_named_for_its_type_and_version(name):
    match = SCHEMA_FILE.match(name)
    assert match, f"{name}: name it <type>.v<version>.schema.json"
    schema = json.loads(schema_files()[name].read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}")
    assert schema["properties"]["event_type"] == {"const": match["type"]}


def test_every_event_type_the_topic_carries_has_a_schema_and_no_schema_is_orphaned():
    documented = {SCHEMA_FILE.match(name)["type"] for name in schema_files()}
    assert documented == set(PAYMENT_EVENT_TYPES)
    assert {event_type(status) for status in TRANSACTION_STATUSES} == set(PAYMENT_EVENT_TYPES)


def test_date_time_formats_are_really_checked():
    """A schema's ``format: date-time`` is only an annotation unless a format checker is installed."""
    event = {"transaction": {"created_at": "yesterday"}}
    assert any("'yesterday' is not a 'date-time'" in line for line in errors(EVENT_TYPE_RECEIVED, event))


@pytest.mark.parametrize(
    "extra",
    [{}, {"description": "Two espressos", "metadata": {"order": "1001", "channel": "web"}}],
    ids=["required-fields", "with-description-and-metadata"],
)
def test_the_event_the_runtime_publishes_is_valid_against_its_schema(aws, extra):
    txn = body_of(create(api_event(valid_body(**extra))))["transaction_id"]
    [message] = aws.topic_messages()
    event = json.loads(message["Body"])
    assert event["event_id"] == txn
    assert errors(event["event_type"], event) == []


def test_a_card_number_in_an_event_is_invalid_against_the_schema(aws):
    create(api_event(valid_body()))
    [message] = aws.topic_messages()
    event = json.loads(message["Body"])
    event["transaction"]["card"]["number"] = VISA
    assert errors(EVENT_TYPE_RECEIVED, event) == [
        "transaction/card: Additional properties are not allowed ('number' was unexpected)"
    ]


class RecordingSns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> None:
        self.published.append(kwargs)


def test_the_event_carries_its_type_in_the_attribute_subscriptions_filter_on(aws):
    """Subscriptions through the topic filter on this attribute: without it a subscriber gets nothing."""
    from payments_platform.runtime.transaction_records import Transaction

    create(api_event(valid_body()))
    [message] = aws.topic_messages()
    body = json.loads(message["Body"])
    sns = RecordingSns()
    [item] = aws.transaction_items()
    transaction = Transaction.from_item(item)
    TransactionDispatcher(None, sns, "", "arn:aws:sns:eu-west-1:123456789012:events", "test").publish_event(transaction)
    [published] = sns.published
    assert published["MessageAttributes"][EVENT_TYPE_ATTRIBUTE]["StringValue"] == body["event_type"]


# card -> the outcome the acquirer simulator answers (its documented Stripe test cards)
OUTCOME_CARDS = {
    "4242424242424242": "authorized",
    "4000000000000002": "declined",
    "4000000000009995": "declined",
    "4000000000000119": "failed",
}


@pytest.fixture
def connector_payments(aws, monkeypatch):
    """POST /transactions through the acquirer simulator connector (in process, on moto)."""
    create_ledger(aws.dynamodb)
    built = connector_creator(aws, InProcessConnector(aws.dynamodb), FakeClock())
    monkeypatch.setattr(transactions, "transaction_creator", lambda: built)


def pay(card: str) -> str:
    body = valid_body(card={"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "987"})
    return body_of(create(api_event(body)))["transaction_id"]


@pytest.mark.parametrize("card", sorted(OUTCOME_CARDS))
def test_every_event_of_a_connectors_lifecycle_is_valid_against_its_schema(aws, connector_payments, card):
    transaction_id = pay(card)
    events = [json.loads(m["Body"]) for m in aws.topic_messages()]
    outcome = f"payment.transaction.{OUTCOME_CARDS[card]}"
    expected = ["payment.transaction.received", "payment.transaction.processing", outcome]
    assert [e["event_type"] for e in events] == expected
    assert [e["transaction"]["transaction_id"] for e in events] == [transaction_id] * 3
    for event in events:
        assert errors(event["event_type"], event) == [], event["event_type"]


def test_a_declined_event_without_its_decline_code_is_invalid(aws, connector_payments):
    pay("4000000000000002")
    declined = json.loads(aws.topic_messages()[-1]["Body"])
    del declined["transaction"]["decline_code"]
    assert errors("payment.transaction.declined", declined) == ["transaction: 'decline_code' is a required property"]


def test_an_event_whose_status_is_not_its_types_is_invalid(aws, connector_payments):
    pay("4242424242424242")
    authorized = json.loads(aws.topic_messages()[-1]["Body"])
    authorized["transaction"]["status"] = "declined"
    assert errors("payment.transaction.authorized", authorized) == ["transaction/status: 'authorized' was expected"]


def test_an_event_validated_against_another_types_schema_is_invalid(aws, connector_payments):
    pay("4000000000000002")
    declined = json.loads(aws.topic_messages()[-1]["Body"])
    lines = errors(EVENT_TYPE_RECEIVED, declined)
    assert "event_type: 'payment.transaction.received' was expected" in lines
