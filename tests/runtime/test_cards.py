import hashlib

import pytest

from payments_platform.runtime.cards import CVC_LENGTHS, card_brand, card_fingerprint, last4, luhn_valid

from .support import AMEX, MASTERCARD, VISA, luhn_complete


@pytest.mark.parametrize(
    "number", [VISA, MASTERCARD, AMEX, "6011111111111117", "3530111333300000", "36227206271667", "6200000000000005"]
)
def test_luhn_accepts_scheme_test_numbers(number):
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4242424242424241", "5555555555554440", "378282246310006"])
def test_luhn_rejects_a_wrong_check_digit(number):
    assert not luhn_valid(number)


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        (VISA, "visa"),
        ("4222222222222", "visa"),
        (MASTERCARD, "mastercard"),
        ("2223003122003222", "mastercard"),
        (AMEX, "amex"),
        ("371449635398431", "amex"),
        ("6011111111111117", "discover"),
        (luhn_complete("622126000000000"), "discover"),
        (luhn_complete("650000000000000"), "discover"),
        ("3530111333300000", "jcb"),
        ("36227206271667", "diners"),
        ("6200000000000005", "unionpay"),
    ],
)
def test_card_brand_follows_bin_ranges(number, brand):
    assert card_brand(number) == brand


@pytest.mark.parametrize(
    "number", [luhn_complete("99999999999999"), luhn_complete("42424242424242"), luhn_complete("3400000000000000")]
)
def test_card_brand_is_none_outside_major_schemes_or_lengths(number):
    assert card_brand(number) is None


def test_amex_security_code_has_four_digits_others_three():
    assert CVC_LENGTHS["amex"] == 4 and CVC_LENGTHS["visa"] == 3


def test_last4_is_the_last_four_digits():
    assert last4(VISA) == "4242"


def test_card_fingerprint_is_keyed_and_not_an_unkeyed_hash():
    a = card_fingerprint(b"k" * 32, VISA)
    assert a == card_fingerprint(b"k" * 32, VISA)
    assert a != card_fingerprint(b"j" * 32, VISA)
    assert hashlib.sha256(VISA.encode()).hexdigest() not in a
    assert VISA not in a
