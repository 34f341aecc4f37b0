"""Pure card-number handling: Luhn, brand from BIN ranges, last4 and the keyed card fingerprint.

PCI DSS 3.3/3.5: the PAN lives only in memory for the duration of one request. What may be
persisted is the brand, the last four digits and an HMAC fingerprint (never an unkeyed hash).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (ASCII digits only) passes the Luhn (mod 10) check."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index & 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


@dataclass(frozen=True)
class BinRange:
    brand: str
    low: int
    high: int
    prefix_length: int
    lengths: frozenset[int]


def _ranges(brand: str, spans: list[tuple[int, int]], lengths: set[int]) -> list[BinRange]:
    return [BinRange(brand, low, high, len(str(low)), frozenset(lengths)) for low, high in spans]


# Most specific ranges first: Discover's UnionPay co-brand range 622126-622925 sits inside
# UnionPay's 62, so it must be tried before it.
BIN_RANGES: tuple[BinRange, ...] = tuple(
    _ranges("discover", [(622126, 622925), (6011, 6011), (644, 649), (65, 65)], {16, 17, 18, 19})
    + _ranges("amex", [(34, 34), (37, 37)], {15})
    + _ranges("mastercard", [(2221, 2720), (51, 55)], {16})
    + _ranges("visa", [(4, 4)], {13, 16, 19})
    + _ranges("jcb", [(3528, 3589)], {16, 17, 18, 19})
    + _ranges("diners", [(300, 305), (36, 36), (38, 39)], {14, 15, 16, 17, 18, 19})
    + _ranges("unionpay", [(62, 62)], {16, 17, 18, 19})
)

SUPPORTED_BRANDS: tuple[str, ...] = tuple(sorted({bin_range.brand for bin_range in BIN_RANGES}))

# Card brand -> number of digits in its card security code.
CVC_LENGTHS: dict[str, int] = {brand: 3 for brand in SUPPORTED_BRANDS} | {"amex": 4}


def card_brand(pan: str) -> str | None:
    """The scheme whose BIN range and length match ``pan``; None when no major scheme does."""
    for bin_range in BIN_RANGES:
        if len(pan) in bin_range.lengths and bin_range.low <= int(pan[: bin_range.prefix_length]) <= bin_range.high:
            return bin_range.brand
    return None


def last4(pan: str) -> str:
    return pan[-4:]


def card_fingerprint(card_key: bytes, pan: str) -> str:
    """A stable, keyed identity for a card (PCI DSS 3.5.1.1: keyed cryptographic hash)."""
    return "cfp_" + hmac.new(card_key, pan.encode("ascii"), hashlib.sha256).hexdigest()
