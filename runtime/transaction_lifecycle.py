"""The transaction lifecycle where a payment connector is enabled:

    received -> processing -> authorized | declined | failed

Each transition is one conditional write of the transaction and its idempotency record
(TransactionStore.transition: a status never moves backwards, a transaction never gets two
outcomes), then one audit message (SQS FIFO, deduplicated per transition) and one event of the
transition's type (``payment.transaction.<status>``, its id one per transition). ``processing`` is
written *before* the connector is asked, so a transaction the connector may have seen is never
``received``. Only the call that moves it to ``processing`` sends ``authorize``, once. Whoever finds
it ``processing`` later -- a client's retry, the reconciler -- finds its outcome unknown (that
authorize may have reached the acquirer) and asks for it with a status query, whose answer is final:
an unknown outcome is asked for, never re-sent, so no retry path can authorize a card twice.

The idempotency key sent to the connector is the transaction id: one per transaction, whatever
the client's retries (their Idempotency-Key finds the same transaction)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from .connector_client import ConnectorClient
from .connector_protocol import AuthorizeRequest, CardDetails, StatusRequest
from .deadline import remaining_ms
from .dispatch import TransactionDispatcher
from .logging_config import get_logger
from .transaction_records import FINAL_STATUSES, STATUS_PROCESSING, STATUS_RECEIVED, Transaction
from .transaction_store import TransactionStore

# Kept from the invocation's time for what follows the connector's answer: the outcome's write,
# its audit message and event, the completion record and the response.
AFTER_ANSWER_RESERVE_MS = 1500


class TransactionLifecycle:
    def __init__(
        self,
        store: TransactionStore,
        dispatcher: TransactionDispatcher,
        connector: ConnectorClient,
        budget_ms: int,
        clock: Callable[[], float] = time.time,
    ):
        self._store = store
        self._dispatcher = dispatcher
        self._connector = connector
        self._budget_ms = budget_ms
        self._clock = clock

    def advance(
        self, transaction: Transaction, record_id: str, request_id: str, card: CardDetails | None = None
    ) -> Transaction:
        """Take ``transaction`` as far as the connector's answers allow: its outcome, or
        ``processing`` when the connector gave none in time. The call that moves it from
        ``received`` to ``processing`` with ``card`` (the request's or its retry's, in memory only)
        asks the connector to authorize the key; any other -- a retry finding it ``processing``, the
        reconciler, which holds no card data -- asks for the key's status, which also stops any later
        authorize. Raises DispatchFailed when a transition's audit message or event could not be sent."""
        if transaction.status in FINAL_STATUSES:
            return transaction
        moved_here = False
        if transaction.status == STATUS_RECEIVED:
            processing = dataclasses.replace(transaction, status=STATUS_PROCESSING)
            transaction, moved_here = self._move(transaction, processing, record_id, request_id)
            if not moved_here:
                return transaction
        key = transaction.transaction_id
        question: AuthorizeRequest | StatusRequest = (
            AuthorizeRequest(key, transaction.amount, transaction.currency, card, transaction.merchant_reference)
            if card is not None and moved_here
            else StatusRequest(key)
        )
        answer = self._connector.ask(question, self._timeout_ms())
        if answer is None:
            return transaction
        outcome = dataclasses.replace(
            transaction,
            status=answer.outcome,
            decline_code=answer.decline_code,
            acquirer_reference=answer.acquirer_reference,
        )
        get_logger().info(
            "transaction.outcome",
            transaction_id=key,
            outcome=answer.outcome,
            decline_code=answer.decline_code,
            by=type(question).__name__,
        )
        return self._move(transaction, outcome, record_id, request_id)[0]

    def _timeout_ms(self) -> int:
        left = remaining_ms()
        if left is None:
            return self._budget_ms
        return max(0, min(self._budget_ms, left - AFTER_ANSWER_RESERVE_MS))

    def _move(
        self, transaction: Transaction, moved: Transaction, record_id: str, request_id: str
    ) -> tuple[Transaction, bool]:
        """(the transaction as it now stands, whether this call moved it)."""
        if not self._store.transition(transaction, moved, record_id, int(self._clock() * 1000)):
            # Moved meanwhile by whoever held the record's lease before (its messages are its own).
            current = self._store.find_transaction(transaction.transaction_id)
            return (current if current is not None else transaction), False
        self._dispatcher.send_missing(moved, request_id, audit_sent=False, event_published=False)
        return moved, True
