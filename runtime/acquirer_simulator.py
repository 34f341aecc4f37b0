"""The acquirer simulator connector's handler (``payments_runtime.acquirer_simulator.handler``):
a connector (connector_protocol.py) whose outcomes are decided by the card number, as in Stripe's
test mode, and recorded in an authorization ledger (its own DynamoDB table) keyed by the
idempotency key -- so a repeated authorize for a key is answered from the ledger and never
authorized twice, as an acquirer's idempotency works. The ledger is what proofs count.

Test cards (any future expiry, any CVC of the brand's length):

    4242424242424242  authorized
    4000000000000002  declined  generic_decline
    4000000000009995  declined  insufficient_funds
    4000000000000069  declined  expired_card
    4000000000000127  declined  incorrect_cvc
    4000000000000119  failed    processing_error
    4000000000007775  authorized, recorded at once, but answered only after SLOW_ANSWER_MS (past
                      the processor's budget): the outcome is read back by the status query
    any other card    authorized

Settings (environment, from the plugin's typed settings): LEDGER_TABLE_NAME, LATENCY_MS (added to
every authorize, like an acquirer's round trip), SLOW_ANSWER_MS.

Card data: the PAN and CVC are read from the payload and decide the outcome; the ledger keeps the
brand and last four digits only, and nothing of the payload is logged (PCI DSS 3.3.1, 3.4.1).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from .aws_clients import client, error_code
from .cards import card_brand
from .connector_protocol import (
    NOT_SUBMITTED,
    OUTCOME_AUTHORIZED,
    OUTCOME_DECLINED,
    OUTCOME_FAILED,
    AuthorizeRequest,
    ConnectorAnswer,
    ProtocolError,
    StatusRequest,
    parse_request,
)
from .logging_config import bind_request_context, configure_logging, get_logger
from .settings import required_env

configure_logging()

SLOW_CARD = "4000000000007775"
TEST_CARDS: dict[str, tuple[str, str | None]] = {
    "4242424242424242": (OUTCOME_AUTHORIZED, None),
    "4000000000000002": (OUTCOME_DECLINED, "generic_decline"),
    "4000000000009995": (OUTCOME_DECLINED, "insufficient_funds"),
    "4000000000000069": (OUTCOME_DECLINED, "expired_card"),
    "4000000000000127": (OUTCOME_DECLINED, "incorrect_cvc"),
    "4000000000000119": (OUTCOME_FAILED, "processing_error"),
    SLOW_CARD: (OUTCOME_AUTHORIZED, None),
}
LEDGER_KEY = "idempotency_key"
DEFAULT_SLOW_ANSWER_MS = 5_000


def outcome_for(number: str) -> tuple[str, str | None]:
    """(outcome, decline code) the simulator gives a card: a pure function of its number."""
    return TEST_CARDS.get(number, (OUTCOME_AUTHORIZED, None))


def acquirer_reference(idempotency_key: str) -> str:
    """``sim_`` + base32 of a digest of the key: stable per key, and no digit run a card-data scan
    could take for a PAN."""
    digest = hashlib.sha256(b"acquirer-simulator/" + idempotency_key.encode()).digest()[:15]
    return "sim_" + base64.b32encode(digest).decode("ascii").lower()


@dataclass(frozen=True)
class SimulatorSettings:
    latency_ms: int = 0
    slow_answer_ms: int = DEFAULT_SLOW_ANSWER_MS

    @classmethod
    def from_environment(cls) -> SimulatorSettings:
        return cls(
            latency_ms=int(os.environ.get("LATENCY_MS", "0") or 0),
            slow_answer_ms=int(os.environ.get("SLOW_ANSWER_MS", str(DEFAULT_SLOW_ANSWER_MS)) or 0),
        )


class AuthorizationLedger:
    """One item per idempotency key, written once (conditional put): the first answer is the answer."""

    def __init__(self, dynamodb: Any, table_name: str):
        self._dynamodb = dynamodb
        self._table = table_name

    def recorded(self, key: str) -> ConnectorAnswer | None:
        item = self._dynamodb.get_item(TableName=self._table, Key={LEDGER_KEY: {"S": key}}, ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return None
        return ConnectorAnswer(
            item["outcome"]["S"],
            item.get("decline_code", {}).get("S"),
            item.get("acquirer_reference", {}).get("S"),
        )

    def record(self, key: str, answer: ConnectorAnswer, details: dict[str, Any]) -> ConnectorAnswer:
        """``answer`` for ``key``, unless one was recorded first: then that one."""
        item: dict[str, Any] = {
            LEDGER_KEY: {"S": key},
            "outcome": {"S": answer.outcome},
            "recorded_at": {"S": datetime.now(UTC).isoformat(timespec="milliseconds")},
            **details,
        }
        if answer.decline_code is not None:
            item["decline_code"] = {"S": answer.decline_code}
        if answer.acquirer_reference is not None:
            item["acquirer_reference"] = {"S": answer.acquirer_reference}
        try:
            self._dynamodb.put_item(
                TableName=self._table, Item=item, ConditionExpression=f"attribute_not_exists({LEDGER_KEY})"
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            first = self.recorded(key)
            if first is None:  # cannot happen: the condition failed on an existing item
                raise
            return first
        return answer


class AcquirerSimulator:
    def __init__(self, ledger: AuthorizationLedger, settings: SimulatorSettings, sleep: Any = time.sleep):
        self._ledger = ledger
        self._settings = settings
        self._sleep = sleep

    def handle(self, payload: Any) -> dict[str, Any]:
        request = parse_request(payload)
        log = get_logger().bind(idempotency_key=request.idempotency_key)
        if isinstance(request, StatusRequest):
            answer = self._status(request)
            log.info("simulator.status", outcome=answer.outcome, decline_code=answer.decline_code)
            return answer.payload()
        answer, slow = self._authorize(request)
        log.info("simulator.authorize", outcome=answer.outcome, decline_code=answer.decline_code, slow=slow)
        if slow:
            self._sleep(self._settings.slow_answer_ms / 1000)
        return answer.payload()

    def _status(self, request: StatusRequest) -> ConnectorAnswer:
        recorded = self._ledger.recorded(request.idempotency_key)
        if recorded is not None:
            return recorded
        # Final: an authorize for this key arriving later finds this answer (connector_protocol.py).
        never = ConnectorAnswer(OUTCOME_FAILED, NOT_SUBMITTED, acquirer_reference(request.idempotency_key))
        return self._ledger.record(request.idempotency_key, never, {"recorded_by": {"S": "status"}})

    def _authorize(self, request: AuthorizeRequest) -> tuple[ConnectorAnswer, bool]:
        recorded = self._ledger.recorded(request.idempotency_key)
        if recorded is not None:
            return recorded, False
        if self._settings.latency_ms:
            self._sleep(self._settings.latency_ms / 1000)
        outcome, decline_code = outcome_for(request.card.number)
        answer = ConnectorAnswer(outcome, decline_code, acquirer_reference(request.idempotency_key))
        details = {
            "recorded_by": {"S": "authorize"},
            "amount": {"N": str(request.amount)},
            "currency": {"S": request.currency},
            "card_brand": {"S": card_brand(request.card.number) or "unknown"},
            "card_last4": {"S": request.card.number[-4:]},
        }
        first = self._ledger.record(request.idempotency_key, answer, details)
        return first, first == answer and request.card.number == SLOW_CARD


@functools.lru_cache(maxsize=1)
def simulator() -> AcquirerSimulator:
    return AcquirerSimulator(
        AuthorizationLedger(client("dynamodb"), required_env("LEDGER_TABLE_NAME")), SimulatorSettings.from_environment()
    )


def handler(event: Any, context: Any) -> dict[str, Any]:
    bind_request_context(
        request_id=getattr(context, "aws_request_id", None) or "connector",
        function=getattr(context, "function_name", None) or "acquirer-simulator",
        operation="connector",
    )
    try:
        return simulator().handle(event)
    except ProtocolError as error:
        # The field is named, never its value (it may be card data); a function error to the caller.
        get_logger().error("simulator.bad_request", reason=str(error))
        raise
