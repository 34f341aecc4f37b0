"""Masking of card data in arbitrary text and structures (defence in depth for logs and responses).

A PAN candidate is a run of 12-19 digits, optionally separated by single spaces or dashes, that
passes Luhn. A longer run (or a run with a PAN glued to other digits) is caught when a window
inside it passes Luhn and matches a major scheme's BIN range and length; runs over 64 digits are
masked without inspection. CVC-like values are masked by key name and,
inside free text, when they follow a CVC-like label.

``contains_card_data`` is the one policy for refusing text (validation of every string a request
carries, and the writers of the table, queues, topic and archive): it finds a PAN whatever the
separators or noise between its digit groups (``4000.0566.5566.5556``, ``4000a0566b...``, double
spaces, unicode digits) and a CVC-like value after a CVC-like label (``cvc: 987``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from .cards import card_brand, luhn_valid

PAN_MASK = "[REDACTED_PAN]"
SECRET_MASK = "[REDACTED]"

# Digit runs of 12+ digits with optional single space/dash separators between digits.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){11,}(?!\d)")
# A CVC-like label, what may stand between it and the value (punctuation, spacing, a filler
# word: "cvc: 987", "CVV2=987", "security code is 987"), then 3-4 digits not part of a longer run.
_CVC_LABEL = (
    r"cvc2?|cvv2?|cvn2?|cav2|cvd|cid|csc"
    r"|card[\W_]{0,3}verification(?:[\W_]{0,3}(?:code|value|number))?"
    r"|(?:card[\W_]{0,3})?security[\W_]{0,3}code"
)
_CVC_IN_TEXT = re.compile(
    rf"(?i)(?<![a-z])({_CVC_LABEL})(?![a-z])([\W_]{{0,8}}(?:(?:is|was|code|number|no|value|of)[\W_]{{1,8}})?)(\d{{3,4}})(?!\d)"
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


# Between two digit groups of one written PAN: 1-3 characters of anything but a digit or a line
# break ("4000.0566", "4000 - 0566", "4000a0566"). Wider gaps join unrelated numbers too often.
_GROUP_GAP = 3
_DIGIT_GROUP = re.compile(r"[0-9]+")
_SHORT_GROUP = re.compile(r"(?<![0-9])[0-9]{1,2}(?![0-9])")
_SHORTEST_PAN = 12
_LONGEST_PAN = 19
# An AWS account id inside an ARN (arn:aws:iam::123456789012:role/x) is 12 digits that may pass
# Luhn; the ARN's shape says what it is.
_ARN_ACCOUNT = re.compile(r"(arn:[a-z0-9-]+:[a-z0-9-]*:[a-z0-9-]*:)[0-9]{12}(?=:)")
# An AWS access key id: 16 random upper-case letters and digits after AKIA/ASIA, where "CVC418"
# turns up in one in 75,000 (a function's key is in every fault log line naming its call). Read
# as a key for the CVC label only: its digits are still read for a PAN.
_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])A[KS]IA[A-Z0-9]{16}(?![A-Z0-9])")
# So is the account id an SQS queue URL's path starts with (https://host:port/123456789012/name):
# chained across the "/" to the port before it, one port in seventy made a PAN (an emulator's
# fault log naming its queue, once a chaos run's "card data").
_URL_ACCOUNT = re.compile(r"(?i)(https?://[^\s/]+/)[0-9]{12}(?=/)")
# An RFC 3339 / ISO 8601 timestamp with valid fields (and Python logging's "2026-12-06 09:12:34,567"):
# its groups chained would hold a branded, Luhn-valid number one time in a few thousand
# (2000-01-30T00:55:01.025+00:00 starts a Diners "PAN" at its day). A PAN cannot hide in one: no
# scheme's BIN starts 19, 20 or 21, and one glued to it (more than 9 fraction digits, a digit
# before the year) stops the match, so the text is read as digits again.
_TIMESTAMP = re.compile(
    r"(?<![0-9])(?:19|20|21)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:[.,][0-9]{1,9})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?(?![0-9])"
)
# Hex identifiers mix digits and letters at random: read as digit groups split by letters, one
# UUID in twelve would hold a "PAN". A canonical UUID (no group over 12 digits) cannot hold one
# and is skipped; in a longer hex string (digests, trace ids: 24+ characters, longer than a
# 16-19 digit PAN with a letter per gap) only a scheme's PAN counts, contiguous or as written.
_UUID = re.compile(r"(?i)(?<![0-9a-z])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-z])")
_HEX_IDENTIFIER = re.compile(r"(?i)(?<![0-9a-z])[0-9a-f]{24,}(?![0-9a-z])")


def _is_hex_uuid(uuid: re.Match[str]) -> bool:
    """A canonical UUID with a hex letter: its digit groups, at most 12 long and split by letters or
    hyphens where a PAN's are not, never hold one (Lambda's and API Gateway's request ids)."""
    return re.search("[a-fA-F]", uuid.group(0)) is not None


def _outside_hex_uuids(text: str, transform: Callable[[str], str]) -> str:
    """``transform`` applied to ``text`` except its hex UUIDs, which are kept as they are."""
    pieces, last = [], 0
    for uuid in _UUID.finditer(text):
        if _is_hex_uuid(uuid):
            pieces += [transform(text[last : uuid.start()]), uuid.group(0)]
            last = uuid.end()
    return "".join(pieces) + transform(text[last:])


def _ascii_digits(text: str) -> str:
    """``text`` with every decimal digit of any script as its ASCII digit (a PAN in fullwidth or
    Arabic-Indic digits is still a PAN)."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def _chains(text: str) -> list[list[str]]:
    """Digit groups chained by short non-digit gaps, one list per chain."""
    chains: list[list[str]] = []
    previous_end = -_GROUP_GAP - 2
    for match in _DIGIT_GROUP.finditer(text):
        gap = text[previous_end : match.start()]
        if chains and len(gap) <= _GROUP_GAP and "\n" not in gap and "\r" not in gap:
            chains[-1].append(match.group(0))
        else:
            chains.append([match.group(0)])
        previous_end = match.end()
    return chains


def _chain_holds_pan(groups: list[str], *, written: bool = False) -> bool:
    """Whole consecutive groups that together are 12-19 digits, Luhn-valid and of a major
    scheme's BIN and length. The scheme is required (unlike a contiguous run): joining groups
    across arbitrary noise would otherwise take one in ten numbers-with-punctuation for a PAN.
    ``written``: only from a group of four, as card numbers are written (4-4-4-4, 4-6-5, 4-6-4)."""
    for first in range(len(groups)):
        if written and len(groups[first]) != 4:
            continue
        digits = ""
        for group in groups[first:]:
            digits += group
            if len(digits) > _LONGEST_PAN:
                break
            if len(digits) >= _SHORTEST_PAN and luhn_valid(digits) and card_brand(digits) is not None:
                return True
    return False


def _holds_branded_pan(digits: str) -> bool:
    return any(
        luhn_valid(digits[start : start + size]) and card_brand(digits[start : start + size]) is not None
        for start in range(len(digits) - 12)
        for size in range(13, min(_LONGEST_PAN, len(digits) - start) + 1)
    )


def contains_card_data(text: str) -> bool:
    """True when ``text`` holds a PAN in any formatting (contiguous, separated by anything short
    between its digit groups, in any script's digits, inside other text) or a CVC-like value
    after a CVC-like label. The one policy for refusing a string, at validation and at every
    writer."""
    text = _ARN_ACCOUNT.sub(r"\g<1>account", _ascii_digits(text))
    if _CVC_IN_TEXT.search(_ACCESS_KEY_ID.sub("access-key", text)) is not None:
        return True
    text = _TIMESTAMP.sub("\n", _URL_ACCOUNT.sub(r"\g<1>account", text))
    # A UUID of digits only is read as digits: it can carry a PAN written 8-4-4.
    text = _UUID.sub(lambda uuid: "\n" if _is_hex_uuid(uuid) else uuid.group(0), text)
    # Inside a hex identifier only a scheme's PAN counts (any 12-19 Luhn-valid digits would be
    # one identifier in two hundred).
    for identifier in _HEX_IDENTIFIER.finditer(text):
        if any(_holds_branded_pan(run) for run in _DIGIT_GROUP.findall(identifier.group(0))):
            return True
        # A PAN written in groups with letters between them ("4000abc0566def...") is a hex
        # string too: there, only groups as PANs are written (three digits or more, from four).
        chains = _chains(_SHORT_GROUP.sub("\n", identifier.group(0)))
        if any(_chain_holds_pan(chain, written=True) for chain in chains):
            return True
    rest = _HEX_IDENTIFIER.sub("\n", text)
    return contains_pan(rest) or any(_chain_holds_pan(chain) for chain in _chains(rest) if len(chain) > 1)


def _mask_run(match: re.Match[str]) -> str:
    return PAN_MASK if digit_run_contains_pan(_digits_only(match.group(0))) else match.group(0)


def mask_text(text: str) -> str:
    """``text`` with PAN candidates and labelled CVC values masked."""
    if len(text) >= 12 and any(c.isdigit() for c in text):
        # Hex UUIDs kept, as contains_card_data reads them: read as digit runs joined by their
        # hyphens, one request id in 230 would be masked (in every log line and error it names).
        text = _outside_hex_uuids(text, lambda part: _DIGIT_RUN.sub(_mask_run, part))
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


def redact_for_log(value: Any) -> Any:
    """``redact(value)``, then any string still holding card data by the refusing policy (a PAN
    with other separators, a labelled CVC in another form) masked whole: a log line is the one
    sink that takes text no validation has seen (exception messages, library output)."""
    return _mask_remaining(redact(value))


def _mask_remaining(value: Any) -> Any:
    if isinstance(value, str):
        return PAN_MASK if contains_card_data(value) else value
    if isinstance(value, dict):
        return {_mask_remaining(k): _mask_remaining(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_remaining(item) for item in value]
    return value
