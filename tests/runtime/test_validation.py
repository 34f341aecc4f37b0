import json
from datetime import date

import pytest

from payments_platform.runtime.errors import CardError, InvalidRequestError, UnsupportedMediaTypeError
from payments_platform.runtime.validation import (
    idempotency_key,
    parse_json_body,
    require_json_content_type,
    transaction_id_from_query,
    validate_create_transaction,
)

from .support import AMEX, VISA, luhn_complete, valid_body

TODAY = date(2030, 6, 15)


def card(**overrides):
    base = {"number": VISA, "exp_month": 12, "exp_year": 2031, "cvc": "123"}
    base.update(overrides)
    return base


def body(**overrides):
    return valid_body(card=card(), **overrides)


def rejection(payload):
    with pytest.raises((InvalidRequestError, CardError)) as info:
        validate_create_transaction(payload, TODAY)
    return info.value.code, info.value.param


def test_a_valid_body_becomes_a_new_transaction():
    new = validate_create_transaction(body(description="Tea", metadata={"order": "A1"}), TODAY)
    assert (new.amount, new.currency, new.card.brand, new.card.last4) == (1250, "EUR", "visa", "4242")
    assert new.metadata == {"order": "A1"}


def test_new_transaction_repr_never_shows_pan_or_cvc():
    new = validate_create_transaction(body(), TODAY)
    assert VISA not in repr(new) and "'123'" not in repr(new)


@pytest.mark.parametrize(
    ("payload", "code", "param"),
    [
        ([], "invalid_body", None),
        ({**body(), "extra": 1}, "parameter_unknown", "extra"),
        ({**body(), VISA: 1}, "parameter_unknown", "body"),
        ({**body(), "x" + VISA: 1}, "parameter_unknown", "body"),
        ({k: v for k, v in body().items() if k != "amount"}, "parameter_missing", "amount"),
        (body(amount=12.5), "parameter_invalid_type", "amount"),
        (body(amount=100.0), "parameter_invalid_type", "amount"),
        (body(amount=True), "parameter_invalid_type", "amount"),
        (body(amount="100"), "parameter_invalid_type", "amount"),
        (body(amount=0), "parameter_out_of_range", "amount"),
        (body(amount=-5), "parameter_out_of_range", "amount"),
        (body(amount=10**12), "parameter_out_of_range", "amount"),
        (body(amount=100_000_001), "parameter_out_of_range", "amount"),
        (body(currency="eur"), "currency_unsupported", "currency"),
        (body(currency="XXX"), "currency_unsupported", "currency"),
        (body(currency="KWD", amount=1005), "amount_invalid_for_currency", "amount"),
        (body(merchant_reference=""), "parameter_out_of_range", "merchant_reference"),
        (body(merchant_reference="a" * 65), "parameter_out_of_range", "merchant_reference"),
        (body(merchant_reference="order 1"), "parameter_invalid", "merchant_reference"),
        (body(merchant_reference="ordér"), "parameter_invalid", "merchant_reference"),
        (body(merchant_reference=VISA), "card_data_in_free_text", "merchant_reference"),
        (body(description="pay\x00"), "parameter_invalid", "description"),
        (body(description="x" * 256), "parameter_out_of_range", "description"),
        (body(description="card 4242 4242 4242 4242 thanks"), "card_data_in_free_text", "description"),
        (body(description="ref 99" + VISA + "7"), "card_data_in_free_text", "description"),
        (body(metadata=[]), "parameter_invalid_type", "metadata"),
        (body(metadata={"k": 1}), "parameter_invalid_type", "metadata.k"),
        (body(metadata={"k": {"nested": "x"}}), "parameter_invalid_type", "metadata.k"),
        (body(metadata={f"k{i}": "v" for i in range(21)}), "parameter_out_of_range", "metadata"),
        (body(metadata={"bad key": "v"}), "parameter_invalid", "metadata"),
        (body(metadata={VISA: "v"}), "card_data_in_free_text", "metadata"),
        (body(metadata={"pan": "4242-4242-4242-4242"}), "card_data_in_free_text", "metadata.pan"),
        (valid_body(card="4242"), "parameter_invalid_type", "card"),
        (valid_body(card={**card(), "name": "X"}), "parameter_unknown", "card.name"),
        (valid_body(card={k: v for k, v in card().items() if k != "cvc"}), "parameter_missing", "card.cvc"),
        (valid_body(card=card(number=4242424242424242)), "parameter_invalid_type", "card.number"),
        (valid_body(card=card(number="4242 4242 4242 4242")), "card_number_invalid", "card.number"),
        (valid_body(card=card(number="4242424242424241")), "card_number_invalid", "card.number"),
        (valid_body(card=card(number="42424242424")), "card_number_invalid", "card.number"),
        (valid_body(card=card(number=luhn_complete("99999999999999"))), "card_brand_unsupported", "card.number"),
        (valid_body(card=card(exp_month=0)), "parameter_out_of_range", "card.exp_month"),
        (valid_body(card=card(exp_month=13)), "parameter_out_of_range", "card.exp_month"),
        (valid_body(card=card(exp_month="12")), "parameter_invalid_type", "card.exp_month"),
        (valid_body(card=card(exp_year=31)), "parameter_out_of_range", "card.exp_year"),
        (valid_body(card=card(exp_year=2029)), "card_expired", "card.exp_year"),
        (valid_body(card=card(exp_year=2030, exp_month=5)), "card_expired", "card.exp_month"),
        (valid_body(card=card(exp_year=2051)), "card_expiry_invalid", "card.exp_year"),
        (valid_body(card=card(cvc=123)), "parameter_invalid_type", "card.cvc"),
        (valid_body(card=card(cvc="12")), "cvc_invalid", "card.cvc"),
        (valid_body(card=card(cvc="1234")), "cvc_invalid", "card.cvc"),
        (valid_body(card=card(number=AMEX, cvc="123")), "cvc_invalid", "card.cvc"),
    ],
)
def test_invalid_bodies_name_the_offending_param(payload, code, param):
    assert rejection(payload) == (code, param)


def test_a_card_expiring_this_month_is_still_valid():
    validate_create_transaction(valid_body(card=card(exp_year=2030, exp_month=6)), TODAY)


def test_amex_accepts_a_four_digit_cvc():
    assert validate_create_transaction(valid_body(card=card(number=AMEX, cvc="1234")), TODAY).card.brand == "amex"


def test_zero_decimal_currency_accepts_whole_amounts():
    assert validate_create_transaction(body(currency="JPY", amount=1001), TODAY).amount == 1001


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"{",
        b"\xff\xfe",
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"a": 1, "a": 2}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_unparseable_bodies_are_invalid_json(raw):
    with pytest.raises(InvalidRequestError) as info:
        parse_json_body(raw)
    assert info.value.code in {"invalid_json", "invalid_encoding"}


def test_parse_json_body_accepts_an_object():
    assert parse_json_body(json.dumps({"a": 1}).encode()) == {"a": 1}


@pytest.mark.parametrize(
    "value", ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]
)
def test_json_content_types_are_accepted(value):
    require_json_content_type(value)


@pytest.mark.parametrize(
    "value", [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"]
)
def test_other_content_types_are_unsupported(value):
    with pytest.raises(UnsupportedMediaTypeError):
        require_json_content_type(value)


@pytest.mark.parametrize(("raw", "expected"), [("abc", "abc"), ('"abc"', "abc"), ("x" * 255, "x" * 255)])
def test_idempotency_keys_are_accepted_and_unquoted(raw, expected):
    assert idempotency_key(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "x" * 256, "k\x00", "ключ", "tab\tkey"])
def test_bad_idempotency_keys_are_rejected(raw):
    with pytest.raises(InvalidRequestError) as info:
        idempotency_key(raw)
    assert info.value.param == "Idempotency-Key"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({}, "parameter_missing"),
        ({"transaction_id": "txn_x"}, "parameter_invalid"),
        ({"transaction_id": "1", "x": "2"}, "parameter_unknown"),
    ],
)
def test_malformed_status_queries_are_rejected(query, code):
    with pytest.raises(InvalidRequestError) as info:
        transaction_id_from_query(query)
    assert info.value.code == code


def test_error_messages_never_echo_the_rejected_value():
    for payload in (body(merchant_reference=VISA), valid_body(card=card(number="4242424242424241"))):
        with pytest.raises((InvalidRequestError, CardError)) as info:
            validate_create_transaction(payload, TODAY)
        assert "4242" not in info.value.message
