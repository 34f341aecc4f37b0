"""Masking of card data in arbitrary text and structures (defence in depth for logs and responses).

A PAN candidate is a run of 12-19 digits, optionally separated by single spaces or dashes, that
passes Luhn. A longer run (or a run with a PAN glued to other digits) is caught when a window
inside it passes Luhn and matches a major scheme's BIN range and length; runs over 64 digits are
masked without inspection. CVC-like values are masked by key name and,
inside free text, when they follow a CVC-like label.
"""

from __future__ import annotations

import re
from typing import Any

from .cards import card_brand, luhn_valid

PAN_MASK = "[REDACTED_PAN]"
SECRET_MASK = "[REDACTED]"

# Digit runs of 12+ digits with optional single space/dash separators between digits.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){11,}(?!\d)")
_CVC_IN_TEXT = re.compile(
    r"(?i)(?<![a-z])(cvc2?|cvv2?|cid|csc|card_?verification(?:_?code)?|security_?code)(\W{0,8})(\d{3,4})(?!\d)"
)
# Runs longer than this are masked without inspecting every window (cost bound).
_MAX_INSPECTED_RUN = 64

# Keys whose values are card security data or raw card numbers, whatever they look like.
SENSITIVE_KEYS = frozenset(
    {
        "cvc",
        "cvc2",
        "cvv",
        "cvv2",
        "cid",
        "csc",
        "security_code",
        "card_security_code",
        "card_verification_code",
        "pan",
        "card_number",
        "primary_account_number",
        "track",
        "track1",
        "track2",
        "track_data",
        "pin",
        "pin_block",
    }
)


def digit_run_contains_pan(digits: str) -> bool:
    """True when ``digits`` is a Luhn-valid run of 12-19 digits, or contains a window that is
    Luhn-valid *and* has a major scheme's BIN and length (a PAN glued to other digits)."""
    length = len(digits)
    if length < 12:
        return False
    if length > _MAX_INSPECTED_RUN:
        return True
    if length <= 19 and luhn_valid(digits):
        return True
    for start in range(0, length - 12):
        if digits[start] not in "3456":
            continue
        for size in range(13, min(19, length - start) + 1):
            window = digits[start : start + size]
            if luhn_valid(window) and card_brand(window) is not None:
                return True
    return False


def _digits_only(run: str) -> str:
    return run.replace(" ", "").replace("-", "")


def contains_pan(text: str) -> bool:
    return any(digit_run_contains_pan(_digits_only(m.group(0))) for m in _DIGIT_RUN.finditer(text))


def contains_card_data(text: str) -> bool:
    """True when ``text`` holds a PAN candidate or a CVC-like value next to a CVC-like label: the one
    check every scan for card data uses (smoke, chaos, the contract report, the tests)."""
    return contains_pan(text) or _CVC_IN_TEXT.search(text) is not None


def _mask_run(match: re.Match[str]) -> str:
    return PAN_MASK if digit_run_contains_pan(_digits_only(match.group(0))) else match.group(0)


def mask_text(text: str) -> str:
    """``text`` with PAN candidates and labelled CVC values masked."""
    if len(text) >= 12 and any(c.isdigit() for c in text):
        text = _DIGIT_RUN.sub(_mask_run, text)
        text = _CVC_IN_TEXT.sub(lambda m: m.group(1) + m.group(2) + SECRET_MASK, text)
    return text


def _is_sensitive_key(key: Any) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SENSITIVE_KEYS


def redact(value: Any) -> Any:
    """A copy of ``value`` safe to log: recurses into dicts, lists and tuples, masks strings,
    PAN-like integers and the values of CVC/PAN-named keys; other objects are stringified first
    so their ``str()`` cannot smuggle card data past the mask."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return PAN_MASK if abs(value) >= 10**11 and digit_run_contains_pan(str(abs(value))) else value
    if isinstance(value, dict):
        return {
            mask_text(k if isinstance(k, str) else str(k)): (SECRET_MASK if _is_sensitive_key(k) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(item) for item in value]
    return mask_text(str(value))
