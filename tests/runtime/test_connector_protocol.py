"""The connector invocation contract (runtime/connector_protocol.py) and its JSON schema say the
same thing, and the acquirer simulator keeps it: outcomes by test card, one ledger entry per
idempotency key, a status answer that is final, no card data in its ledger or logs."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import pytest

from payments_platform.runtime.acquirer_simulator import (
    SLOW_CARD,
    AcquirerSimulator,
    AuthorizationLedger,
    SimulatorSettings,
    outcome_for,
)
from payments_platform.runtime.connector_protocol import (
    AuthorizeRequest,
    CardDetails,
    ConnectorAnswer,
    ProtocolError,
    StatusRequest,
    parse_answer,
    parse_request,
)

from .connector_support import LEDGER_TABLE, create_ledger
from .support import without_timestamps

SCHEMA = json.loads(files("payments_platform.runtime").joinpath("schemas/connector_protocol.schema.json").read_text())
CARD = CardDetails("4000000000000002", "321", 12, 2040)


def validator(definition: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{definition}"})


def test_the_schema_is_a_valid_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_what_the_processor_sends_is_what_the_schema_accepts():
    jsonschema.validate(AuthorizeRequest("txn_abc", 1250, "EUR", CARD, "order-1").payload(), SCHEMA)
    jsonschema.validate(StatusRequest("txn_abc").payload(), SCHEMA)


@pytest.mark.parametrize(
    "answer",
    [
        {"outcome": "authorized", "decline_code": None, "acquirer_reference": "sim_x"},
        {"outcome": "declined", "decline_code": "insufficient_funds", "acquirer_reference": "sim_x"},
        {"outcome": "failed", "decline_code": "not_submitted", "acquirer_reference": None},
    ],
)
def test_answers_the_schema_accepts_parse(answer):
    validator("answer").validate(answer)
    assert parse_answer(answer).payload() == answer


@pytest.mark.parametrize(
    "answer",
    [
        {"outcome": "approved"},
        {"outcome": "declined"},  # no decline code
        {"outcome": "authorized", "decline_code": "generic_decline"},
        {"outcome": "declined", "decline_code": "card_stolen"},
        {"outcome": "authorized", "extra": 1},
        ["authorized"],
    ],
)
def test_answers_outside_the_contract_are_refused_by_both(answer):
    assert not validator("answer").is_valid(answer)
    with pytest.raises(ProtocolError):
        parse_answer(answer)


def test_a_bad_request_names_the_field_never_the_card_data():
    payload = AuthorizeRequest("txn_abc", 1250, "EUR", CARD).payload()
    payload["card"]["cvc"] = "12345"
    with pytest.raises(ProtocolError) as error:
        parse_request(payload)
    assert "card.cvc" in str(error.value) and "12345" not in str(error.value) and CARD.number not in str(error.value)
    assert CARD.number not in repr(parse_request(AuthorizeRequest("txn_abc", 1, "EUR", CARD).payload()))


@pytest.mark.parametrize(
    ("card", "outcome"),
    [
        ("4242424242424242", ("authorized", None)),
        ("4000000000000002", ("declined", "generic_decline")),
        ("4000000000009995", ("declined", "insufficient_funds")),
        ("4000000000000069", ("declined", "expired_card")),
        ("4000000000000127", ("declined", "incorrect_cvc")),
        ("4000000000000119", ("failed", "processing_error")),
        (SLOW_CARD, ("authorized", None)),
        ("5555555555554444", ("authorized", None)),
    ],
)
def test_the_card_number_decides_the_outcome(card, outcome):
    assert outcome_for(card) == outcome


@pytest.fixture
def simulator(aws):
    create_ledger(aws.dynamodb)
    slept: list[float] = []
    sim = AcquirerSimulator(
        AuthorizationLedger(aws.dynamodb, LEDGER_TABLE),
        SimulatorSettings(latency_ms=300, slow_answer_ms=5000),
        slept.append,
    )
    sim.slept = slept
    return sim


def authorize(sim, key: str, number: str) -> dict:
    return sim.handle(AuthorizeRequest(key, 1250, "EUR", CardDetails(number, "321", 12, 2040)).payload())


def test_a_repeated_authorize_is_answered_from_the_ledger_never_authorized_twice(aws, simulator):
    first = authorize(simulator, "txn_1", "4000000000009995")
    assert authorize(simulator, "txn_1", "4242424242424242") == first  # the first answer stands
    [entry] = aws.dynamodb.scan(TableName=LEDGER_TABLE)["Items"]
    assert entry["outcome"]["S"] == "declined" and entry["decline_code"]["S"] == "insufficient_funds"
    assert simulator.slept == [0.3]  # the acquirer's latency, once: the repeat never reached it


def test_the_slow_card_is_recorded_at_once_and_answered_late(aws, simulator):
    answer = authorize(simulator, "txn_slow", SLOW_CARD)
    assert simulator.slept == [0.3, 5.0]
    assert simulator.handle(StatusRequest("txn_slow").payload()) == answer


def test_a_status_for_an_unknown_key_is_final(aws, simulator):
    status = simulator.handle(StatusRequest("txn_never").payload())
    assert (status["outcome"], status["decline_code"]) == ("failed", "not_submitted")
    assert authorize(simulator, "txn_never", "4242424242424242") == status


def test_the_ledger_and_the_connector_logs_hold_no_pan_or_cvc(aws, simulator, capsys):
    authorize(simulator, "txn_1", "4000000000000127")
    [entry] = aws.dynamodb.scan(TableName=LEDGER_TABLE)["Items"]
    text = json.dumps(entry)
    assert "4000000000000127" not in text and "321" not in without_timestamps(text)  # recorded_at: ms
    assert entry["card_last4"]["S"] == "0127" and entry["card_brand"]["S"] == "visa"
    logs = capsys.readouterr().out
    assert '"simulator.authorize"' in logs and "4000000000000127" not in logs


def test_a_connector_answer_keeps_its_own_invariants():
    with pytest.raises(ProtocolError):
        ConnectorAnswer("declined", None, "sim_x")
