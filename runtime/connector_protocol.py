"""The invocation contract between the transaction processor and a payment connector (plugin API
1.2): what the processor sends a connector's Lambda function and what the connector answers. Both
sides use this module; a third-party connector implements the shapes it states (and the JSON
schema beside it, ``schemas/connector_protocol.schema.json``, which the tests hold equal to it).

Two operations, each invoked synchronously (``RequestResponse``):

* ``authorize`` -- authorize ``amount`` in ``currency`` on the card. ``idempotency_key`` is one per
  transaction (its id): a connector answers a repeated authorize for a key it has seen with the
  outcome it recorded the first time, never authorizing twice (as an acquirer's idempotency does).
* ``status`` -- the outcome recorded for ``idempotency_key`` (Hyperswitch's PSync, Kill Bill's
  Janitor): what the reconciler asks when an authorize timed out, failed or was cut short. It never
  authorizes. When the connector holds no authorization for the key it answers ``failed`` with
  decline code ``not_submitted`` *and records that answer*, so an authorize for that key arriving
  later (still in flight when asked) is answered the same way: the answer to a status query is final.

The answer: ``outcome`` (``authorized`` | ``declined`` | ``failed``), a machine-readable
``decline_code`` for ``declined`` and ``failed`` (ActiveMerchant's standard codes: DECLINE_CODES),
and the acquirer's reference for the attempt. A connector that cannot tell (its acquirer timed out)
raises -- a function error -- and the transaction stays ``processing`` until a status query answers.

Card data: the PAN and CVC travel in the authorize payload and nowhere else. A connector never
stores, logs or returns them (its ledger may keep the brand and last four digits, as the
transactions table does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = "1"
OPERATION_AUTHORIZE = "authorize"
OPERATION_STATUS = "status"

OUTCOME_AUTHORIZED = "authorized"
OUTCOME_DECLINED = "declined"
OUTCOME_FAILED = "failed"
OUTCOMES = (OUTCOME_AUTHORIZED, OUTCOME_DECLINED, OUTCOME_FAILED)

# Machine-readable decline codes (ActiveMerchant's standard error codes, Stripe's names).
DECLINE_CODES = (
    "generic_decline",
    "insufficient_funds",
    "expired_card",
    "incorrect_cvc",
    "processing_error",
    "not_submitted",  # a status query found no authorization for the key: none will ever be made
)
NOT_SUBMITTED = "not_submitted"

_IDEMPOTENCY_KEY = re.compile(r"\A[A-Za-z0-9_.:-]{1,128}\Z")
_REFERENCE = re.compile(r"\A[A-Za-z0-9_.:-]{1,64}\Z")


class ProtocolError(ValueError):
    """A request or answer that does not follow this contract (the message names the field only)."""


@dataclass(frozen=True)
class CardDetails:
    """What the acquirer needs of the card: only ever in an authorize payload."""

    number: str
    cvc: str
    exp_month: int
    exp_year: int

    def __repr__(self) -> str:  # never the PAN or CVC in a traceback or a log line
        return "CardDetails(<redacted>)"


@dataclass(frozen=True)
class AuthorizeRequest:
    idempotency_key: str
    amount: int
    currency: str
    card: CardDetails
    merchant_reference: str = ""

    def payload(self) -> dict[str, Any]:
        return {
            "protocol_version": PROTOCOL_VERSION,
            "operation": OPERATION_AUTHORIZE,
            "idempotency_key": self.idempotency_key,
            "amount": self.amount,
            "currency": self.currency,
            "merchant_reference": self.merchant_reference,
            "card": {
                "number": self.card.number,
                "cvc": self.card.cvc,
                "exp_month": self.card.exp_month,
                "exp_year": self.card.exp_year,
            },
        }


@dataclass(frozen=True)
class StatusRequest:
    idempotency_key: str

    def payload(self) -> dict[str, Any]:
        return {
            "protocol_version": PROTOCOL_VERSION,
            "operation": OPERATION_STATUS,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True)
class ConnectorAnswer:
    outcome: str
    decline_code: str | None = None
    acquirer_reference: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ProtocolError("outcome must be one of " + ", ".join(OUTCOMES))
        if (self.outcome == OUTCOME_AUTHORIZED) != (self.decline_code is None):
            raise ProtocolError("decline_code is given for declined and failed outcomes only")
        if self.decline_code is not None and self.decline_code not in DECLINE_CODES:
            raise ProtocolError("decline_code must be one of " + ", ".join(DECLINE_CODES))
        if self.acquirer_reference is not None and not _REFERENCE.match(self.acquirer_reference):
            raise ProtocolError("acquirer_reference must be 1-64 of A-Z a-z 0-9 _ . : -")

    def payload(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "decline_code": self.decline_code,
            "acquirer_reference": self.acquirer_reference,
        }


def parse_answer(payload: Any) -> ConnectorAnswer:
    """The connector's answer as the processor reads it; ProtocolError when it is not one."""
    if not isinstance(payload, dict) or set(payload) - {"outcome", "decline_code", "acquirer_reference"}:
        raise ProtocolError("an answer is an object with outcome, decline_code and acquirer_reference only")
    for name in ("outcome", "decline_code", "acquirer_reference"):
        value = payload.get(name)
        if value is not None and not isinstance(value, str):
            raise ProtocolError(f"{name} must be a string")
    return ConnectorAnswer(payload.get("outcome", ""), payload.get("decline_code"), payload.get("acquirer_reference"))


def parse_request(payload: Any) -> AuthorizeRequest | StatusRequest:
    """The processor's request as a connector reads it; ProtocolError names the field that is wrong
    (never its value: it may be card data)."""
    if not isinstance(payload, dict):
        raise ProtocolError("a request is a JSON object")
    if payload.get("protocol_version") != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol_version must be {PROTOCOL_VERSION!r}")
    key = payload.get("idempotency_key")
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.match(key):
        raise ProtocolError("idempotency_key must be 1-128 of A-Z a-z 0-9 _ . : -")
    operation = payload.get("operation")
    if operation == OPERATION_STATUS:
        return StatusRequest(key)
    if operation != OPERATION_AUTHORIZE:
        raise ProtocolError(f"operation must be {OPERATION_AUTHORIZE!r} or {OPERATION_STATUS!r}")
    amount, currency, card = payload.get("amount"), payload.get("currency"), payload.get("card")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ProtocolError("amount must be a non-negative integer (minor units)")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ProtocolError("currency must be an ISO 4217 code")
    if not isinstance(card, dict):
        raise ProtocolError("card must be an object")
    number, cvc, month, year = (card.get(n) for n in ("number", "cvc", "exp_month", "exp_year"))
    if not isinstance(number, str) or not re.fullmatch(r"[0-9]{12,19}", number):
        raise ProtocolError("card.number must be 12-19 digits")
    if not isinstance(cvc, str) or not re.fullmatch(r"[0-9]{3,4}", cvc):
        raise ProtocolError("card.cvc must be 3-4 digits")
    if not (isinstance(month, int) and isinstance(year, int)) or isinstance(month, bool) or isinstance(year, bool):
        raise ProtocolError("card.exp_month and card.exp_year must be integers")
    reference = payload.get("merchant_reference", "")
    return AuthorizeRequest(key, amount, currency, CardDetails(number, cvc, month, year), str(reference)[:64])
