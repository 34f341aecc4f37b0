"""Pure validation of client input: headers, the POST /transactions body and the status query.

The gateway's draft-04 model (schemas/create_transaction.schema.json) checks the same shape;
this module is stricter where draft-04 cannot express a rule: Luhn, card brand, expiry against
today, brand-specific CVC length, per-currency amount bounds and steps, card data smuggled into
any other string (a PAN in any formatting or a labelled CVC: redaction.contains_card_data, the one
policy), duplicate JSON keys and non-finite numbers. Error messages are fixed strings and
never contain the offending value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .cards import CVC_LENGTHS, card_brand, luhn_valid
from .currencies import CURRENCIES, GLOBAL_MAX_AMOUNT
from .errors import CardError, InvalidRequestError, UnsupportedMediaTypeError
from .redaction import SENSITIVE_KEYS, contains_card_data

MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_MERCHANT_REFERENCE_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 255
MAX_METADATA_KEYS = 20
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 255
MAX_EXPIRY_YEARS_AHEAD = 20

MERCHANT_REFERENCE = re.compile(r"\A[A-Za-z0-9._:/-]{1,64}\Z")
METADATA_KEY = re.compile(r"\A[A-Za-z0-9_.-]{1,40}\Z")
PRINTABLE_ASCII = re.compile(r"\A[\x20-\x7e]*\Z")
CARD_NUMBER = re.compile(r"\A[0-9]{12,19}\Z")
CVC = re.compile(r"\A[0-9]{3,4}\Z")
TRANSACTION_ID = re.compile(r"\Atxn_[a-z2-7]{24}\Z")
_SAFE_PARAM_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,39}\Z")

TOP_LEVEL_FIELDS = frozenset({"amount", "currency", "merchant_reference", "card", "description", "metadata"})
REQUIRED_FIELDS = ("amount", "currency", "merchant_reference", "card")
CARD_FIELDS = ("number", "exp_month", "exp_year", "cvc")


@dataclass(frozen=True)
class CardDetails:
    # PCI DSS 3.3.1 / 3.5: number and cvc exist only in memory; repr never shows them.
    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)
    brand: str

    @property
    def last4(self) -> str:
        return self.number[-4:]


@dataclass(frozen=True)
class NewTransaction:
    amount: int
    currency: str
    merchant_reference: str
    card: CardDetails
    description: str | None = None
    metadata: dict[str, str] | None = None


# ---------------------------------------------------------------- headers


def require_json_content_type(content_type: str | None) -> None:
    if content_type is None:
        raise UnsupportedMediaTypeError("unsupported_media_type", "Content-Type must be application/json.")
    media_type, _, params = content_type.partition(";")
    if media_type.strip().lower() != "application/json":
        raise UnsupportedMediaTypeError("unsupported_media_type", "Content-Type must be application/json.")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaTypeError("unsupported_media_type", "Only the utf-8 charset is accepted.")


def idempotency_key(raw: str | None) -> str:
    """The Idempotency-Key header value: 1-255 printable ASCII characters. The IETF draft sends it
    as a structured-field string ("..."), so one level of quoting is removed."""
    if raw is None:
        raise InvalidRequestError(
            "idempotency_key_missing", "The Idempotency-Key header is required.", param="Idempotency-Key"
        )
    value = raw
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not (1 <= len(value) <= MAX_IDEMPOTENCY_KEY_LENGTH) or not PRINTABLE_ASCII.match(value) or not value.strip():
        raise InvalidRequestError(
            "idempotency_key_invalid",
            "The Idempotency-Key must be 1-255 printable ASCII characters.",
            param="Idempotency-Key",
        )
    if contains_card_data(value):
        raise _card_data_error("Idempotency-Key")
    return value


def _card_data_error(param: str) -> InvalidRequestError:
    # PCI DSS 3.3.1/3.4: a card number or security code must not reach storage, a queue or a log
    # through any other field. Refused, not masked: what is stored and echoed is what was sent.
    return InvalidRequestError(
        "card_data_in_free_text", "The parameter appears to contain card data (a card number or CVC).", param=param
    )


# ---------------------------------------------------------------- JSON


def _reject_constant(name: str) -> Any:
    raise ValueError("non-finite number")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # Two values for one key would let the gateway and the handler see different bodies.
            raise ValueError("duplicate key")
        result[key] = value
    return result


def parse_json_body(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("invalid_encoding", "The request body is not valid UTF-8.") from None
    if not text.strip():
        raise InvalidRequestError("invalid_json", "The request body is empty.")
    try:
        return json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidRequestError("invalid_json", "The request body is nested too deeply.") from None
    except ValueError:
        raise InvalidRequestError("invalid_json", "The request body is not valid JSON.") from None


# ---------------------------------------------------------------- body


def _check_fields(value: dict[Any, Any], *, allowed: Any, required: Any, prefix: str = "") -> None:
    """Unknown fields first, then missing ones, each naming the first offending parameter."""
    for key in value:
        if key not in allowed:
            raise InvalidRequestError(
                "parameter_unknown", "The parameter is not recognised.", param=_param_name(prefix, key)
            )
    for key in required:
        if key not in value:
            raise InvalidRequestError("parameter_missing", "The parameter is required.", param=prefix + key)


def _param_name(prefix: str, key: Any) -> str:
    if isinstance(key, str) and _SAFE_PARAM_NAME.match(key) and not contains_card_data(key):
        return prefix + key
    # Never echo an arbitrary key: it may be card data.
    return prefix.rstrip(".") or "body"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_error(param: str, expected: str) -> InvalidRequestError:
    return InvalidRequestError("parameter_invalid_type", f"The parameter must be {expected}.", param=param)


def _free_text(value: Any, param: str, max_length: int, *, min_length: int = 0) -> str:
    if not isinstance(value, str):
        raise _type_error(param, "a string")
    # First, so card data is the same 400 whatever else is wrong with the text (unicode digits).
    if contains_card_data(value):
        raise _card_data_error(param)
    if not (min_length <= len(value) <= max_length):
        raise InvalidRequestError(
            "parameter_out_of_range", f"The parameter must be {min_length}-{max_length} characters.", param=param
        )
    if not PRINTABLE_ASCII.match(value):
        raise InvalidRequestError(
            "parameter_invalid", "The parameter must contain printable ASCII characters only.", param=param
        )
    return value


def _validate_amount(value: Any) -> int:
    if not _is_int(value):
        raise _type_error("amount", "an integer number of minor units")
    if not (1 <= value <= GLOBAL_MAX_AMOUNT):
        raise InvalidRequestError(
            "parameter_out_of_range", f"The amount must be between 1 and {GLOBAL_MAX_AMOUNT}.", param="amount"
        )
    return int(value)


def _validate_currency(value: Any) -> str:
    if not isinstance(value, str):
        raise _type_error("currency", "a string")
    if value not in CURRENCIES:
        raise InvalidRequestError("currency_unsupported", "The currency is not supported.", param="currency")
    return value


def _validate_amount_for_currency(amount: int, currency: str) -> None:
    spec = CURRENCIES[currency]
    if amount > spec.max_amount:
        raise InvalidRequestError(
            "parameter_out_of_range", f"The amount must not exceed {spec.max_amount} for {currency}.", param="amount"
        )
    if amount % spec.amount_step:
        raise InvalidRequestError(
            "amount_invalid_for_currency",
            f"Amounts in {currency} must be a multiple of {spec.amount_step}.",
            param="amount",
        )


def _validate_card(value: Any, today: date) -> CardDetails:
    if not isinstance(value, dict):
        raise _type_error("card", "an object")
    _check_fields(value, allowed=CARD_FIELDS, required=CARD_FIELDS, prefix="card.")

    number = value["number"]
    if not isinstance(number, str):
        raise _type_error("card.number", "a string of digits")
    if not CARD_NUMBER.match(number) or not luhn_valid(number):
        raise CardError("card_number_invalid", "The card number is invalid.", param="card.number")
    brand = card_brand(number)
    if brand is None:
        raise CardError("card_brand_unsupported", "The card brand is not supported.", param="card.number")

    exp_month, exp_year = value["exp_month"], value["exp_year"]
    if not _is_int(exp_month):
        raise _type_error("card.exp_month", "an integer")
    if not 1 <= exp_month <= 12:
        raise InvalidRequestError(
            "parameter_out_of_range", "The expiry month must be between 1 and 12.", param="card.exp_month"
        )
    if not _is_int(exp_year):
        raise _type_error("card.exp_year", "an integer")
    if not 1000 <= exp_year <= 9999:
        raise InvalidRequestError(
            "parameter_out_of_range", "The expiry year must have 4 digits.", param="card.exp_year"
        )
    # A card is valid through the last day of its expiry month.
    if (exp_year, exp_month) < (today.year, today.month):
        raise CardError(
            "card_expired",
            "The card has expired.",
            param="card.exp_month" if exp_year == today.year else "card.exp_year",
        )
    if exp_year > today.year + MAX_EXPIRY_YEARS_AHEAD:
        raise CardError("card_expiry_invalid", "The expiry year is too far in the future.", param="card.exp_year")

    cvc = value["cvc"]
    if not isinstance(cvc, str):
        raise _type_error("card.cvc", "a string of digits")
    if not CVC.match(cvc) or len(cvc) != CVC_LENGTHS[brand]:
        raise CardError("cvc_invalid", "The card security code is invalid.", param="card.cvc")
    return CardDetails(number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc, brand=brand)


def _validate_metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _type_error("metadata", "an object of string values")
    if len(value) > MAX_METADATA_KEYS:
        raise InvalidRequestError(
            "parameter_out_of_range", f"Metadata may have at most {MAX_METADATA_KEYS} keys.", param="metadata"
        )
    for key, item in value.items():
        if not isinstance(key, str) or contains_card_data(key):
            raise _card_data_error("metadata")
        if not METADATA_KEY.match(key):
            raise InvalidRequestError(
                "parameter_invalid", "Metadata keys must be 1-40 of A-Z a-z 0-9 _ . -", param="metadata"
            )
        param = _param_name("metadata.", key)
        if isinstance(item, str) and _is_card_data_entry(key, item):
            raise _card_data_error(param)
        _free_text(item, param, MAX_METADATA_VALUE_LENGTH)
    return dict(value)


def _is_card_data_entry(key: str, item: str) -> bool:
    """The key is the value's label: ``{"cvv": "987"}`` is ``cvv: 987``; a card-data key name
    (``pan``, ``card_number``, ``pin``...) with any digit in its value is refused too. The line
    break keeps digits of the key and of the value from reading as one number."""
    if key.lower().replace("-", "_") in SENSITIVE_KEYS and any(c.isdigit() for c in item):
        return True
    return contains_card_data(f"{key}:\n{item}")


def validate_create_transaction(payload: Any, today: date) -> NewTransaction:
    """The POST /transactions body as a NewTransaction; InvalidRequestError/CardError naming the
    first offending parameter otherwise."""
    if not isinstance(payload, dict):
        raise InvalidRequestError("invalid_body", "The request body must be a JSON object.")
    _check_fields(payload, allowed=TOP_LEVEL_FIELDS, required=REQUIRED_FIELDS)

    amount = _validate_amount(payload["amount"])
    currency = _validate_currency(payload["currency"])
    _validate_amount_for_currency(amount, currency)
    merchant_reference = _free_text(
        payload["merchant_reference"], "merchant_reference", MAX_MERCHANT_REFERENCE_LENGTH, min_length=1
    )
    if not MERCHANT_REFERENCE.match(merchant_reference):
        raise InvalidRequestError(
            "parameter_invalid",
            "The merchant reference may contain A-Z a-z 0-9 . _ : / - only.",
            param="merchant_reference",
        )
    card = _validate_card(payload["card"], today)
    description = None
    if "description" in payload:
        description = _free_text(payload["description"], "description", MAX_DESCRIPTION_LENGTH, min_length=1)
    metadata = _validate_metadata(payload["metadata"]) if "metadata" in payload else None
    return NewTransaction(amount, currency, merchant_reference, card, description, metadata)


# ---------------------------------------------------------------- status query


def transaction_id_from_query(query: dict[str, Any]) -> str:
    for key in query:
        if key != "transaction_id":
            raise InvalidRequestError(
                "parameter_unknown", "The query parameter is not recognised.", param=_param_name("", key)
            )
    value = query.get("transaction_id")
    if value is None:
        raise InvalidRequestError(
            "parameter_missing", "The transaction_id query parameter is required.", param="transaction_id"
        )
    if not isinstance(value, str) or not TRANSACTION_ID.match(value):
        raise InvalidRequestError("parameter_invalid", "The transaction_id is malformed.", param="transaction_id")
    return value
