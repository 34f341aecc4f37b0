"""Tests that pin the edges mutation testing found unpinned (issue #26, item 5; `make mutation`,
BENCHMARKS.md "Mutation testing"): the masking's digit-run bounds, labels and keys, the BIN
table's range ends, and validation's limits exactly at them."""

from __future__ import annotations

from datetime import date

import pytest

from payments_platform.runtime.cards import CVC_LENGTHS, card_brand, card_fingerprint, last4, luhn_valid
from payments_platform.runtime.currencies import GLOBAL_MAX_AMOUNT
from payments_platform.runtime.errors import CardError, InvalidRequestError
from payments_platform.runtime.redaction import (
    PAN_MASK,
    SECRET_MASK,
    contains_card_data,
    contains_pan,
    digit_run_contains_pan,
    mask_text,
    redact,
)
from payments_platform.runtime.validation import (
    MAX_METADATA_KEYS,
    idempotency_key,
    transaction_id_from_query,
    validate_create_transaction,
)

from .support import VISA, luhn_complete, valid_body

TODAY = date(2030, 6, 15)
TWELVE = luhn_complete("12345678901")  # 12 digits, Luhn-valid, no scheme
ELEVEN = luhn_complete("1234567890")
VISA13 = luhn_complete("400000000000")
VISA19 = luhn_complete("4" + "0" * 17)


def pan(prefix: str, length: int) -> str:
    return luhn_complete(prefix + "0" * (length - len(prefix) - 1))


# --------------------------------------------------------------------- redaction: digit runs


def test_a_twelve_digit_luhn_run_is_a_pan_candidate_and_eleven_is_not():
    assert mask_text(f"ref {TWELVE}") == f"ref {PAN_MASK}"
    assert contains_pan(TWELVE) and not contains_pan(ELEVEN)
    assert mask_text(f"ref {ELEVEN} ok") == f"ref {ELEVEN} ok"
    assert not digit_run_contains_pan(ELEVEN)


def test_a_run_of_twenty_digits_holding_a_pan_is_masked_and_without_one_is_not():
    assert digit_run_contains_pan(VISA + "0000") and digit_run_contains_pan("0000" + VISA)
    assert mask_text("x " + VISA + "0000") == "x " + PAN_MASK
    assert not digit_run_contains_pan("0" * 20)
    assert not digit_run_contains_pan("1" * 20)


def test_a_pan_at_the_very_end_of_a_long_run_is_found():
    # The last window start: length - 13 for a 13-digit PAN, and a 19-digit PAN ending the run.
    assert digit_run_contains_pan("0000000" + VISA13)
    assert digit_run_contains_pan("0" + VISA19)
    assert digit_run_contains_pan(VISA19 + "0")


def test_a_run_is_inspected_up_to_64_digits_and_masked_beyond():
    assert mask_text("0" * 64) == "0" * 64
    assert mask_text("0" * 65) == PAN_MASK
    assert not digit_run_contains_pan("0" * 64) and digit_run_contains_pan("0" * 65)


def test_a_long_non_pan_run_stays_unmasked_with_separators():
    text = "-".join(["0000"] * 8)
    assert mask_text(text) == text and not contains_pan(text)


def test_single_spaces_and_dashes_join_a_run_and_other_separators_do_not():
    spaced = " ".join(VISA[i : i + 4] for i in range(0, 16, 4))
    assert mask_text(spaced) == PAN_MASK and mask_text(spaced.replace(" ", "-")) == PAN_MASK
    dotted = spaced.replace(" ", ".")
    assert mask_text(dotted) == dotted  # masking is not the policy: contains_card_data is
    assert contains_card_data(dotted)


def test_short_text_is_returned_as_is():
    assert mask_text("cvc 12") == "cvc 12"
    assert mask_text("no digits at all here") == "no digits at all here"


@pytest.mark.parametrize("label", ["cvc", "cvc2", "cvv", "cvv2", "cid", "csc", "CVV2", "security_code"])
def test_each_cvc_label_masks_the_value_after_it(label):
    assert mask_text(f"the {label}: 1234 ok") == f"the {label}: {SECRET_MASK} ok"
    assert contains_card_data(f"{label} 987")


def test_a_label_inside_a_word_or_a_longer_digit_run_is_not_a_cvc():
    assert mask_text("acid 1234 base") == "acid 1234 base"
    assert mask_text("cvc 12345 is an order") == "cvc 12345 is an order"
    assert not contains_card_data("acid 123") and not contains_card_data("cvc 12345")


# --------------------------------------------------------------------- redaction: structures


@pytest.mark.parametrize("key", ["pin", "cid", "card_number", "Card-Number", "CVV2", "track2", "pan"])
def test_values_of_card_data_keys_are_masked_whatever_they_hold(key):
    assert redact({key: "anything"}) == {key: SECRET_MASK}


def test_keys_are_normalised_dash_to_underscore_and_other_keys_pass():
    assert redact({"security-code": "x", "order": "x"}) == {"security-code": SECRET_MASK, "order": "x"}


def test_scalars_other_than_pan_like_integers_pass_unchanged():
    for value in (1.5, 4242424242424242.0, True, False, None, 0, -5, 10**11 - 1):
        result = redact(value)
        assert result == value and type(result) is type(value)
    assert redact(int(VISA)) == PAN_MASK and redact(-int(VISA)) == PAN_MASK
    assert redact(int(TWELVE)) == PAN_MASK and redact(int(ELEVEN)) == int(ELEVEN)


def test_containers_and_other_objects_are_redacted_inside():
    assert redact([VISA, ("x", VISA)]) == [PAN_MASK, ["x", PAN_MASK]]
    assert redact({VISA: 1}) == {PAN_MASK: 1}
    assert redact({1: "a"}) == {"1": "a"}
    assert redact({VISA}) == [PAN_MASK]

    class Smuggler:
        def __str__(self) -> str:
            return f"card {VISA}"

    assert redact(Smuggler()) == f"card {PAN_MASK}"


# --------------------------------------------------------------------- cards: BIN table edges


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        (pan("2221", 16), "mastercard"),
        (pan("2720", 16), "mastercard"),
        (pan("51", 16), "mastercard"),
        (pan("55", 16), "mastercard"),
        (pan("3528", 16), "jcb"),
        (pan("3589", 19), "jcb"),
        (VISA19, "visa"),
        (VISA13, "visa"),
        (pan("34", 15), "amex"),
        (pan("37", 15), "amex"),
        (pan("300", 14), "diners"),
        (pan("305", 19), "diners"),
        (pan("36", 14), "diners"),
        (pan("39", 16), "diners"),
        (pan("6011", 16), "discover"),
        (pan("644", 19), "discover"),
        (pan("649", 16), "discover"),
        (pan("65", 16), "discover"),
        (pan("622126", 16), "discover"),
        (pan("622925", 16), "discover"),
        (pan("622125", 16), "unionpay"),
        (pan("622926", 19), "unionpay"),
    ],
)
def test_bin_range_ends_are_inside(number, brand):
    assert card_brand(number) == brand


@pytest.mark.parametrize(
    "number",
    [
        pan("2220", 16),
        pan("2721", 16),
        pan("50", 16),
        pan("56", 16),
        pan("3527", 16),
        pan("3590", 16),
        pan("4", 17),
        pan("4", 12),
        pan("34", 16),
        pan("306", 14),
        pan("2221", 17),
        pan("643", 16),
        pan("6012", 16),
        pan("65", 15),
        pan("62", 15),
        pan("1", 16),
    ],
)
def test_beyond_the_range_ends_is_no_brand(number):
    assert card_brand(number) is None


def test_luhn_doubles_every_second_digit_from_the_right():
    assert luhn_valid("18") and luhn_valid("59") and luhn_valid("0") and not luhn_valid("19")
    assert luhn_valid("4242424242424242") and not luhn_valid("4242424242424241")


def test_cvc_lengths_last4_and_fingerprint():
    assert CVC_LENGTHS["amex"] == 4 and {v for k, v in CVC_LENGTHS.items() if k != "amex"} == {3}
    assert last4(VISA19) == VISA19[-4:]
    fingerprint = card_fingerprint(b"k", VISA)
    assert fingerprint.startswith("cfp_") and len(fingerprint) == 68
    assert fingerprint == card_fingerprint(b"k", VISA) != card_fingerprint(b"j", VISA)


# --------------------------------------------------------------------- validation at its limits


def _card(**overrides):
    base = {"number": VISA, "exp_month": 12, "exp_year": 2031, "cvc": "123"}
    base.update(overrides)
    return base


def _outcome(**overrides):
    body = valid_body(card=_card())
    body.update(overrides)
    try:
        validate_create_transaction(body, TODAY)
    except (InvalidRequestError, CardError) as error:
        return error.code, error.param
    return "ok"


def test_metadata_has_at_most_twenty_keys_exactly():
    assert MAX_METADATA_KEYS == 20
    assert _outcome(metadata={f"k{i}": "v" for i in range(20)}) == "ok"
    assert _outcome(metadata={f"k{i}": "v" for i in range(21)}) == ("parameter_out_of_range", "metadata")


def test_text_limits_are_accepted_exactly_at_them():
    assert _outcome(merchant_reference="r" * 64) == "ok"
    assert _outcome(merchant_reference="r" * 65) == ("parameter_out_of_range", "merchant_reference")
    assert _outcome(merchant_reference="") == ("parameter_out_of_range", "merchant_reference")
    assert _outcome(description="d" * 255) == "ok"
    assert _outcome(description="d" * 256) == ("parameter_out_of_range", "description")
    assert _outcome(description="") == ("parameter_out_of_range", "description")
    assert _outcome(metadata={"k" * 40: "v" * 255}) == "ok"
    assert _outcome(metadata={"k" * 41: "v"}) == ("parameter_invalid", "metadata")
    assert _outcome(metadata={"k": "v" * 256}) == ("parameter_out_of_range", "metadata.k")
    assert _outcome(metadata={"k": ""}) == "ok"


def test_amount_and_expiry_limits_exactly():
    assert _outcome(amount=1) == "ok"
    assert _outcome(amount=0) == ("parameter_out_of_range", "amount")
    assert _outcome(currency="USD", amount=GLOBAL_MAX_AMOUNT + 1)[0] == "parameter_out_of_range"
    assert _outcome(card=_card(exp_month=1)) == "ok"
    assert _outcome(card=_card(exp_month=0)) == ("parameter_out_of_range", "card.exp_month")
    assert _outcome(card=_card(exp_month=13)) == ("parameter_out_of_range", "card.exp_month")
    assert _outcome(card=_card(exp_year=2050)) == "ok"  # today + 20
    assert _outcome(card=_card(exp_year=2051)) == ("card_expiry_invalid", "card.exp_year")
    assert _outcome(card=_card(exp_year=2030, exp_month=6)) == "ok"
    assert _outcome(card=_card(exp_year=2030, exp_month=5)) == ("card_expired", "card.exp_month")
    assert _outcome(card=_card(exp_year=2029, exp_month=12)) == ("card_expired", "card.exp_year")
    assert _outcome(card=_card(exp_year=999)) == ("parameter_out_of_range", "card.exp_year")
    assert _outcome(card=_card(exp_year=10000)) == ("parameter_out_of_range", "card.exp_year")


def test_card_number_and_cvc_limits():
    assert _outcome(card=_card(number=pan("4", 12))) == ("card_brand_unsupported", "card.number")
    assert _outcome(card=_card(number=pan("4", 20))) == ("card_number_invalid", "card.number")
    assert _outcome(card=_card(number=VISA19)) == "ok"
    assert _outcome(card=_card(cvc="1234")) == ("cvc_invalid", "card.cvc")
    assert _outcome(card=_card(number=pan("34", 15), cvc="1234")) == "ok"
    assert _outcome(card=_card(number=pan("34", 15), cvc="123")) == ("cvc_invalid", "card.cvc")


@pytest.mark.parametrize(("raw", "expected"), [('"a"', "a"), ('"', '"'), ("a" * 255, "a" * 255), ('"a\\"b"', 'a"b')])
def test_idempotency_keys_at_the_limits_are_accepted(raw, expected):
    assert idempotency_key(raw) == expected


@pytest.mark.parametrize("raw", ['""', "a" * 256, '"' + "a" * 256 + '"', " ", ""])
def test_an_empty_quoted_or_overlong_idempotency_key_is_refused(raw):
    with pytest.raises(InvalidRequestError) as raised:
        idempotency_key(raw)
    assert raised.value.code == "idempotency_key_invalid"


def test_a_status_query_key_is_named_only_when_safe():
    with pytest.raises(InvalidRequestError) as raised:
        transaction_id_from_query({"other": "x"})
    assert raised.value.param == "other"
    with pytest.raises(InvalidRequestError) as raised:
        transaction_id_from_query({VISA: "x"})
    assert raised.value.param == "body"


# --------------------------------------------------------------------- second mutation run's survivors

HEX = "abcdef" * 5  # 30 hex letters: makes any text around it a hex identifier of 24+ characters


def test_a_scheme_pan_inside_a_hex_identifier_is_found_at_its_start_middle_and_end():
    assert contains_card_data(VISA + HEX) and contains_card_data(HEX + VISA13) and contains_card_data(HEX + VISA19)
    assert contains_card_data(HEX[:10] + VISA + HEX[:10])


def test_inside_a_hex_identifier_only_a_scheme_pan_counts():
    unbranded = luhn_complete("1" * 15)  # 16 digits, Luhn-valid, no scheme
    assert contains_pan(unbranded) and not contains_card_data(HEX + unbranded)
    assert not contains_card_data(HEX + "4" + "0" * 19)  # scheme prefixes, no Luhn-valid window


def test_a_pan_written_in_a_hex_identifier_counts_from_a_group_of_four():
    assert contains_card_data("abc12345def4000abc0566abc5566abc5556")  # a 5-digit group first, then the PAN
    assert not contains_card_data("40000abc566abc5566abc5556abcdef")  # 5-3-4-4: not as cards are written


def test_two_groups_make_a_pan_and_line_breaks_end_a_number():
    assert contains_card_data("40000566.55665556")
    assert not contains_card_data("4000\r0566\r5566\r5556") and not contains_card_data("4000\n0566\n5566\n5556")


def test_an_aws_account_id_in_an_arn_is_not_a_pan_but_the_same_digits_alone_are():
    assert contains_card_data(TWELVE)
    assert not contains_card_data(f"arn:aws:iam::{TWELVE}:role/payments")


def test_a_nineteen_digit_luhn_run_of_no_scheme_is_a_pan_candidate():
    unbranded19 = luhn_complete("1" * 18)
    assert digit_run_contains_pan(unbranded19) and mask_text(unbranded19) == PAN_MASK


def test_a_long_run_needs_a_window_both_luhn_valid_and_of_a_scheme():
    assert not digit_run_contains_pan("4" + "0" * 19)


def test_dashes_are_separators_of_a_masked_run():
    assert mask_text("5555-5555-5555-4444") == PAN_MASK and mask_text("3782-822463-10005") == PAN_MASK


def test_a_twelve_digit_integer_is_masked_only_when_it_is_a_pan_candidate():
    assert redact(10**11) == 10**11 and redact(10**12) == 10**12


def test_the_fingerprint_depends_on_the_pan():
    assert card_fingerprint(b"k", VISA) != card_fingerprint(b"k", VISA19)


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ('application/json; charset="utf8"', True),
        ("application/json; charset=UTF-8", True),
        ("application/json;foo=1;charset=latin1", False),
        ("application/json; charset=utf-8=x", False),
    ],
)
def test_content_type_parameters_are_read_one_by_one(content_type, accepted):
    from payments_platform.runtime.errors import UnsupportedMediaTypeError
    from payments_platform.runtime.validation import require_json_content_type

    if accepted:
        require_json_content_type(content_type)
    else:
        with pytest.raises(UnsupportedMediaTypeError):
            require_json_content_type(content_type)


def _error(call, *args):
    from payments_platform.runtime.errors import UnsupportedMediaTypeError

    with pytest.raises((InvalidRequestError, UnsupportedMediaTypeError, CardError)) as raised:
        call(*args)
    return raised.value.code, raised.value.message, getattr(raised.value, "param", None)


def test_error_messages_are_the_documented_fixed_strings():
    """Clients read them (docs/RUNTIME.md); none carries the offending value."""
    from payments_platform.runtime.validation import parse_json_body, require_json_content_type

    cases = [
        (_error(require_json_content_type, None), ("unsupported_media_type", "Content-Type must be application/json.")),
        (
            _error(require_json_content_type, "text/plain"),
            ("unsupported_media_type", "Content-Type must be application/json."),
        ),
        (
            _error(require_json_content_type, "application/json; charset=latin1"),
            ("unsupported_media_type", "Only the utf-8 charset is accepted."),
        ),
        (_error(idempotency_key, None), ("idempotency_key_missing", "The Idempotency-Key header is required.")),
        (
            _error(idempotency_key, '""'),
            ("idempotency_key_invalid", "The Idempotency-Key must be 1-255 printable ASCII characters."),
        ),
        (
            _error(idempotency_key, "cvc 987"),
            ("card_data_in_free_text", "The parameter appears to contain card data (a card number or CVC)."),
        ),
        (_error(parse_json_body, b"\xff"), ("invalid_encoding", "The request body is not valid UTF-8.")),
        (_error(parse_json_body, b"  "), ("invalid_json", "The request body is empty.")),
        (_error(parse_json_body, b"[" * 100_000), ("invalid_json", "The request body is nested too deeply.")),
        (_error(parse_json_body, b"{"), ("invalid_json", "The request body is not valid JSON.")),
        (
            _error(transaction_id_from_query, {"x": "1"}),
            ("parameter_unknown", "The query parameter is not recognised."),
        ),
        (
            _error(transaction_id_from_query, {}),
            ("parameter_missing", "The transaction_id query parameter is required."),
        ),
        (
            _error(transaction_id_from_query, {"transaction_id": "t"}),
            ("parameter_invalid", "The transaction_id is malformed."),
        ),
    ]
    for (code, message, _), expected in cases:
        assert (code, message) == expected
    assert _error(transaction_id_from_query, {})[2] == "transaction_id"
    assert _error(transaction_id_from_query, {"transaction_id": "t"})[2] == "transaction_id"
    assert _error(idempotency_key, None)[2] == "Idempotency-Key"
    assert _error(validate_create_transaction, valid_body(amount="1"), TODAY)[1] == (
        "The parameter must be an integer number of minor units."
    )


def test_a_quoted_idempotency_key_unescapes_backslashes():
    assert idempotency_key('"a\\\\b"') == "a\\b"


def test_a_log_event_is_masked_inside_lists_too():
    from payments_platform.runtime.redaction import redact_for_log

    assert redact_for_log({"a": ["4000.0566.5566.5556", "ok", 3]}) == {"a": [PAN_MASK, "ok", 3]}


def test_a_uuid_of_digits_only_is_read_as_digits():
    assert contains_card_data("40000566-5566-5556-0000-000000000000")
    assert not contains_card_data("40000566-5566-5556-a000-000000000000".replace("0566", "0a66"))
