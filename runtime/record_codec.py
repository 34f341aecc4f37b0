"""The one codec for the DynamoDB attributes the runtime writes and reads -- the transaction, its
idempotency record, and the values of the updates on them. Each field has one type; a writer is
refused (RecordRefused) a value no reader could read back, and a reader that meets a value of the
wrong shape raises RecordUnparseable naming the record, the field and why. Numbers are whole:
milliseconds and amounts are ints, written with ``str(int)`` and read only when they are digits.

Defence in depth for PCI DSS 3.3.1/3.4.1: validation refuses card data in what a client sends,
and every writer -- this codec for the table, ``refuse_card_data`` for the audit queue, the topic
and the archive -- refuses to write a string that holds a PAN (in any formatting) or a labelled
CVC, naming the field and never the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .redaction import contains_card_data

_WHOLE_NUMBER = re.compile(r"^-?\d+$")
_MISSING: Any = object()


class RecordRefused(TypeError):
    """A writer tried to store a value its readers could not read back (a bug in the writer)."""


class CardDataRefused(RecordRefused):
    """A writer was about to store card data: the message names the field path, never the value."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} holds card data (a PAN or a labelled CVC); refused to write it")
        self.path = path


def refuse_card_data(value: Any, path: str) -> None:
    """Raise CardDataRefused naming the first string (a value or a key) in ``value`` -- a str or
    JSON-like dicts and lists -- that holds card data."""
    if isinstance(value, str):
        if contains_card_data(value):
            raise CardDataRefused(path)
    elif isinstance(value, Mapping):
        for index, (key, item) in enumerate(value.items()):
            if isinstance(key, str) and contains_card_data(key):
                raise CardDataRefused(f"{path}.<key {index}>")
            refuse_card_data(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            refuse_card_data(item, f"{path}[{index}]")


class RecordUnparseable(ValueError):
    """A stored record does not have the shape this runtime writes: a platform bug or corruption,
    never a client's error. Carries only the record's key and the field's name -- no values."""

    def __init__(self, record_key: str, field: str, reason: str) -> None:
        super().__init__(f"record {record_key}: field {field}: {reason}")
        self.record_key = record_key
        self.field = field
        self.reason = reason


# --------------------------------------------------------------------------- writing


def text_value(value: str, field: str = "value") -> dict[str, str]:
    """Any text, screened for card data (CardDataRefused)."""
    refuse_card_data(identifier_value(value, field)["S"], field)
    return {"S": value}


def json_text_value(value: str, field: str = "value") -> dict[str, str]:
    """JSON text (a stored response), screened string by string as the queue and topic writers
    screen theirs: the JSON punctuation between two strings is not read as a separator."""
    text = identifier_value(value, field)["S"]
    try:
        document: Any = json.loads(text)
    except ValueError:
        document = text  # not JSON after all: screened as one text
    refuse_card_data(document, field)
    return {"S": value}


def identifier_value(value: str, field: str = "value") -> dict[str, str]:
    """A value the platform made itself -- a random id, an HMAC digest -- that no client text
    reaches. Not screened: 64 random hex digits hold a scheme-valid run once in four hundred."""
    if not isinstance(value, str):
        raise RecordRefused(f"{field} must be a str, got {type(value).__name__}")
    return {"S": value}


def whole_number(value: int, field: str = "value", *, minimum: int | None = None) -> dict[str, str]:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordRefused(f"{field} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise RecordRefused(f"{field} must be at least {minimum}, got {value}")
    return {"N": str(value)}


def epoch_ms_value(value: int, field: str = "epoch milliseconds") -> dict[str, str]:
    """A DynamoDB number holding whole milliseconds since the epoch."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordRefused(f"epoch milliseconds must be an int, got {type(value).__name__} {value!r} ({field})")
    return whole_number(value, field, minimum=0)


def flag_value(value: bool, field: str = "value") -> dict[str, bool]:
    if not isinstance(value, bool):
        raise RecordRefused(f"{field} must be a bool, got {type(value).__name__}")
    return {"BOOL": value}


def text_map_value(value: Mapping[str, str], field: str = "value") -> dict[str, Any]:
    refuse_card_data(dict(value), field)
    return {"M": {text_value(k, field)["S"]: text_value(v, f"{field}.{k}") for k, v in value.items()}}


# --------------------------------------------------------------------------- reading


class ItemReader:
    """Typed access to one stored item; every failure names the record and the field."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        self._item = item
        key = item.get("transaction_id") if isinstance(item, Mapping) else None
        self.record_key = key.get("S", "?") if isinstance(key, Mapping) else "?"

    def _typed(self, field: str, kind: str, default: Any) -> Any:
        attribute = self._item.get(field)
        if attribute is None:
            if default is _MISSING:
                raise RecordUnparseable(self.record_key, field, "missing")
            return default
        if not isinstance(attribute, Mapping) or kind not in attribute:
            found = ",".join(sorted(attribute)) if isinstance(attribute, Mapping) else type(attribute).__name__
            raise RecordUnparseable(self.record_key, field, f"expected DynamoDB type {kind}, found {found}")
        return attribute[kind]

    def text(self, field: str, default: Any = _MISSING) -> Any:
        value = self._typed(field, "S", default)
        if value is not default and not isinstance(value, str):
            raise RecordUnparseable(self.record_key, field, "not a string")
        return value

    def whole_number(self, field: str, default: Any = _MISSING) -> Any:
        value = self._typed(field, "N", default)
        if value is default:
            return value
        if not isinstance(value, str) or not _WHOLE_NUMBER.match(value):
            raise RecordUnparseable(self.record_key, field, "not a whole number")
        return int(value)

    def flag(self, field: str, default: Any = _MISSING) -> Any:
        value = self._typed(field, "BOOL", default)
        if value is not default and not isinstance(value, bool):
            raise RecordUnparseable(self.record_key, field, "not a boolean")
        return value

    def text_map(self, field: str) -> dict[str, str] | None:
        value = self._typed(field, "M", None)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise RecordUnparseable(self.record_key, field, "not a map")
        entries: dict[str, str] = {}
        for name, entry in value.items():
            if not isinstance(entry, Mapping) or not isinstance(entry.get("S"), str):
                raise RecordUnparseable(self.record_key, field, "an entry is not a string")
            entries[name] = entry["S"]
        return entries

    def choice(self, field: str, parse: Any) -> Any:
        """``parse(text)``, e.g. an Enum; a ValueError from it is an unparseable field."""
        text = self.text(field)
        try:
            return parse(text)
        except ValueError:
            raise RecordUnparseable(self.record_key, field, "not one of the known values") from None
