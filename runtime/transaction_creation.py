"""Creating a transaction: one conditional DynamoDB transaction, one SQS message, one SNS
publish and the record of completion -- four AWS calls on the happy path -- with idempotent
replay and convergence of a partially failed dispatch (see idempotency.py for the state machine)."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import error_code, is_retryable
from .cards import card_fingerprint
from .connector_protocol import CardDetails
from .dispatch import DispatchFailed, TransactionDispatcher
from .errors import IdempotencyInProgressError, IdempotencyKeyReusedError, InternalError, ServiceUnavailableError
from .fingerprint_keyring import FingerprintKeyring
from .idempotency import (
    Decision,
    DispatchState,
    IdempotencyRecord,
    decide,
    lease_ms_for,
    record_id,
    request_fingerprint,
)
from .logging_config import get_logger
from .settings import FingerprintKeys
from .transaction_lifecycle import TransactionLifecycle
from .transaction_records import FINAL_STATUSES, STATUS_RECEIVED, Transaction, new_transaction_id
from .transaction_store import IdempotencyKeyTaken, TransactionStore
from .validation import NewTransaction

UNAVAILABLE_RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class CreationResult:
    transaction_id: str
    response_body: str
    replayed: bool
    outcome: str  # created | replayed | dispatch_completed


def unavailable(error: BaseException) -> ServiceUnavailableError:
    get_logger().warning("aws.unavailable", aws_error_code=error_code(error), error_class=type(error).__name__)
    return ServiceUnavailableError(
        "service_unavailable",
        "A dependency is temporarily unavailable; retry later.",
        retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS,
    )


def _fingerprint_as_recorded(existing: IdempotencyRecord, request: NewTransaction, keyring: FingerprintKeyring) -> str:
    """The request's fingerprint under the key version ``existing`` was made with. A record from
    before key versions matches under whichever held key reproduces its fingerprint."""
    if existing.key_version:
        keys = keyring.by_version(existing.key_version)
        if keys is None:
            get_logger().error(
                "idempotency.unknown_key_version",
                idempotency_record=existing.record_id,
                key_version=existing.key_version,
            )
            raise InternalError("internal_error", "An internal error occurred.")
        candidates: tuple[FingerprintKeys, ...] = (keys,)
    else:
        candidates = keyring.all_keys
    fingerprints = [request_fingerprint(k, card_fingerprint(k.card, request.card.number), request) for k in candidates]
    return next((f for f in fingerprints if hmac.compare_digest(f, existing.request_fingerprint)), fingerprints[0])


class TransactionCreator:
    def __init__(
        self,
        store: TransactionStore,
        dispatcher: TransactionDispatcher,
        keyring: Callable[[], FingerprintKeyring],
        clock: Callable[[], float] = time.time,
        lifecycle: TransactionLifecycle | None = None,
    ):
        self._store = store
        self._dispatcher = dispatcher
        self._keyring = keyring
        self._clock = clock
        self._lifecycle = lifecycle  # None: intake only (no payment connector enabled)

    @property
    def processes_payments(self) -> bool:
        """Whether a payment connector authorizes what this creates (else: intake only)."""
        return self._lifecycle is not None

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def create(
        self,
        client_id: str,
        idempotency_key: str,
        request: NewTransaction,
        request_id: str,
        remaining_time_ms: int | None = None,
    ) -> CreationResult:
        now_ms = self._now_ms()
        keyring = self._keyring()
        keys = keyring.writing(now_ms / 1000)
        card_fp = card_fingerprint(keys.card, request.card.number)
        fingerprint = request_fingerprint(keys, card_fp, request)
        idem_id = record_id(keys, client_id, idempotency_key)
        other_ids = [record_id(other, client_id, idempotency_key) for other in keyring.checked(now_ms / 1000)]
        transaction = Transaction(
            transaction_id=new_transaction_id(),
            created_at_ms=now_ms,
            client_id=client_id,
            status=STATUS_RECEIVED,
            amount=request.amount,
            currency=request.currency,
            merchant_reference=request.merchant_reference,
            card_brand=request.card.brand,
            card_last4=request.card.last4,
            card_fingerprint=card_fp,
            idempotency_record_id=idem_id,
            description=request.description,
            metadata=request.metadata,
            card_fingerprint_key_version=keys.version,
        )
        response_body = json.dumps(transaction.public_view(), separators=(",", ":"))
        record = IdempotencyRecord(
            record_id=idem_id,
            client_id=client_id,
            request_fingerprint=fingerprint,
            transaction_id=transaction.transaction_id,
            transaction_timestamp=now_ms,
            dispatch_state=DispatchState.DISPATCHING,
            audit_sent=False,
            event_published=False,
            lease_expires_at_ms=now_ms + lease_ms_for(remaining_time_ms),
            response_body=response_body,
            request_id=request_id,
            key_version=keys.version,
        )
        try:
            self._store.create(transaction, record, request_id, absent_record_ids=other_ids)
        except IdempotencyKeyTaken as taken:
            # The record naming this very transaction is our own write: botocore retried a
            # TransactWriteItems that had committed (its response was lost). DynamoDB answers such
            # a retry with success through ClientRequestToken; an emulator may not.
            if taken.existing is None or taken.existing.transaction_id != transaction.transaction_id:
                return self._existing(
                    taken.existing, [idem_id, *other_ids], client_id, request, keyring, request_id, remaining_time_ms
                )
        except (ClientError, BotoCoreError) as error:
            if is_retryable(error):
                # The write is one DynamoDB transaction: nothing was stored.
                raise unavailable(error) from None
            raise
        self._dispatch(transaction, record, request_id)
        card = CardDetails(request.card.number, request.card.cvc, request.card.exp_month, request.card.exp_year)
        transaction = self._process(transaction, record, request_id, card)
        if transaction.status != STATUS_RECEIVED:
            response_body = json.dumps(transaction.public_view(), separators=(",", ":"))
        return CreationResult(transaction.transaction_id, response_body, replayed=False, outcome="created")

    def _existing(
        self,
        existing: IdempotencyRecord | None,
        idem_ids: list[str],
        client_id: str,
        request: NewTransaction,
        keyring: FingerprintKeyring,
        request_id: str,
        remaining_time_ms: int | None,
    ) -> CreationResult:
        try:
            for idem_id in idem_ids if existing is None else ():
                existing = self._store.idempotency_record(idem_id)
                if existing is not None:
                    break
            if existing is None:
                # A concurrent request holds the key but has not committed yet.
                raise IdempotencyInProgressError(
                    "idempotency_request_in_progress",
                    "A request with this Idempotency-Key is in progress.",
                    retry_after=1,
                )
            now_ms = self._now_ms()
            decision = decide(existing, client_id, _fingerprint_as_recorded(existing, request, keyring), now_ms)
            if decision is Decision.KEY_REUSED:
                raise IdempotencyKeyReusedError(
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with a different request body.",
                    param="Idempotency-Key",
                )
            if decision is Decision.IN_PROGRESS:
                raise IdempotencyInProgressError(
                    "idempotency_request_in_progress",
                    "A request with this Idempotency-Key is in progress.",
                    retry_after=existing.lease_remaining_seconds(now_ms),
                )
            lease_ms = lease_ms_for(remaining_time_ms)
            if decision is Decision.REPLAY and self._unfinished(existing):
                # A request cut short (its lease ran out) before its outcome: this retry finishes it --
                # whoever claims the record first; it authorizes only a transaction never submitted
                # (still `received`), else asks for the outcome (transaction_lifecycle.py).
                return self._resume_dispatch(existing, now_ms, request_id, lease_ms, request, stale=True)
            if decision is Decision.REPLAY:
                return CreationResult(
                    existing.transaction_id, existing.response_body, replayed=True, outcome="replayed"
                )
            return self._resume_dispatch(existing, now_ms, request_id, lease_ms, request)
        except (ClientError, BotoCoreError) as error:
            if is_retryable(error):
                raise unavailable(error) from None
            raise

    def _unfinished(self, existing: IdempotencyRecord) -> bool:
        """Where payments are processed: a record still ``dispatching`` whose transaction has no outcome."""
        if self._lifecycle is None or existing.dispatch_state is not DispatchState.DISPATCHING:
            return False
        return bool(json.loads(existing.response_body).get("status") not in FINAL_STATUSES)

    def _resume_dispatch(
        self,
        existing: IdempotencyRecord,
        now_ms: int,
        request_id: str,
        lease_ms: int,
        request: NewTransaction,
        stale: bool = False,
    ) -> CreationResult:
        claim = self._store.claim_stale_dispatch if stale else self._store.claim_dispatch_resume
        claimed = claim(existing.record_id, now_ms, lease_ms)
        if claimed is None and stale:
            # Taken by the reconciler or another retry meanwhile: what is recorded is the answer.
            return CreationResult(existing.transaction_id, existing.response_body, replayed=True, outcome="replayed")
        if claimed is None:
            raise IdempotencyInProgressError(
                "idempotency_request_in_progress", "A request with this Idempotency-Key is in progress.", retry_after=1
            )
        transaction = self._store.find_transaction(claimed.transaction_id)
        if transaction is None:  # cannot happen: both items are written in one transaction
            raise RuntimeError("idempotency record points at a missing transaction")
        self._dispatch(transaction, claimed, request_id)
        card = CardDetails(request.card.number, request.card.cvc, request.card.exp_month, request.card.exp_year)
        processed = self._process(transaction, claimed, request_id, card)
        body = claimed.response_body
        if processed != transaction:
            body = json.dumps(processed.public_view(), separators=(",", ":"))
        return CreationResult(claimed.transaction_id, body, replayed=True, outcome="dispatch_completed")

    def _process(
        self, transaction: Transaction, record: IdempotencyRecord, request_id: str, card: CardDetails
    ) -> Transaction:
        """Authorize through the connector (transaction_lifecycle.py) and record how far it got: the
        outcome completes the record; ``processing`` leaves it to a retry or the reconciler, which
        ask the connector for the outcome. Intake only (no connector): the record completes."""
        if self._lifecycle is not None:
            try:
                transaction = self._lifecycle.advance(transaction, record.record_id, request_id, card)
            except DispatchFailed as failed:
                self._dispatch_failed(transaction, record, failed)
            if transaction.status not in FINAL_STATUSES:
                self._await_outcome(transaction, record)
                return transaction
        self._record_completion(transaction, record)
        return transaction

    def _await_outcome(self, transaction: Transaction, record: IdempotencyRecord) -> None:
        """The transition's messages are sent; its outcome is unknown. Left in the reconciler's
        index (lease 0): a retry or the next reconciler run asks the connector."""
        try:
            self._store.mark_dispatch_incomplete(record.record_id, audit_sent=True, event_published=True)
        except Exception as error:
            # The record stays "dispatching" and in the index: the reconciler asks once its lease ends.
            get_logger().warning(
                "transaction.outcome_wait_unrecorded",
                transaction_id=transaction.transaction_id,
                aws_error_code=error_code(error),
                error_class=type(error).__name__,
            )

    def _record_completion(self, transaction: Transaction, record: IdempotencyRecord) -> None:
        """Mark the dispatch complete so an immediate retry is a replay, not a 409. The payment is
        already recorded and dispatched: a failure here must not turn the 201 into an error -- the
        record stays ``dispatching`` and reads as finished once its lease expires."""
        try:
            self._store.mark_dispatch_complete(record.record_id)
        except Exception as error:
            get_logger().warning(
                "transaction.completion_unrecorded",
                transaction_id=transaction.transaction_id,
                aws_error_code=error_code(error),
                error_class=type(error).__name__,
            )

    def _dispatch(self, transaction: Transaction, record: IdempotencyRecord, request_id: str) -> None:
        try:
            self._dispatcher.send_missing(
                transaction, request_id, audit_sent=record.audit_sent, event_published=record.event_published
            )
        except DispatchFailed as failed:
            self._dispatch_failed(transaction, record, failed)

    def _dispatch_failed(self, transaction: Transaction, record: IdempotencyRecord, failed: DispatchFailed) -> NoReturn:
        log = get_logger()
        log.error(
            "transaction.dispatch_failed",
            transaction_id=transaction.transaction_id,
            audit_sent=failed.audit_sent,
            event_published=failed.event_published,
            aws_error_code=error_code(failed.cause),
            error_class=type(failed.cause).__name__,
        )
        try:
            self._store.mark_dispatch_incomplete(
                record.record_id, audit_sent=failed.audit_sent, event_published=failed.event_published
            )
        except Exception as mark_error:
            # The record stays "dispatching" (and in the reconciler's index): the reconciler
            # completes it once its lease expires.
            log.critical(
                "transaction.dispatch_state_unrecorded",
                transaction_id=transaction.transaction_id,
                aws_error_code=error_code(mark_error),
                error_class=type(mark_error).__name__,
            )
        if isinstance(failed.cause, (ClientError, BotoCoreError)):
            raise ServiceUnavailableError(
                "dispatch_incomplete",
                "The transaction was recorded but not fully dispatched; retry with the same Idempotency-Key.",
                retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS,
            ) from None
        raise failed.cause from None
