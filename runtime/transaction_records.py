"""The shapes a transaction takes: the DynamoDB item, the public API view, the audit message and
the payment event. None of them has a field for the PAN or the CVC (PCI DSS 3.3.1, 3.4.1)."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .idempotency import (
    DISPATCH_PENDING_ATTRIBUTE,
    RECORD_SORT_KEY,
    RETENTION_SECONDS,
    DispatchState,
    IdempotencyRecord,
    dispatch_shard,
)
from .record_codec import (
    ItemReader,
    epoch_ms_value,
    flag_value,
    identifier_value,
    json_text_value,
    text_map_value,
    text_value,
    whole_number,
)
from .redaction import contains_card_data, mask_text

STATUS_RECEIVED = "received"
STATUS_PROCESSING = "processing"
# The lifecycle (transaction_lifecycle.py): received -> processing -> authorized | declined |
# failed, where a payment connector is enabled; without one (intake only) a transaction stays
# "received". The outcomes are final.
TRANSACTION_STATUSES = ("received", "processing", "authorized", "declined", "failed")
FINAL_STATUSES = ("authorized", "declined", "failed")
RECORD_TYPE_TRANSACTION = "transaction"
RECORD_TYPE_IDEMPOTENCY = "idempotency_key"
EVENT_TYPE_RECEIVED = "payment.transaction.received"


# The only moves a transaction makes: forward, one step, once.
TRANSITIONS = frozenset({("received", "processing")} | {("processing", outcome) for outcome in FINAL_STATUSES})


def event_type(status: str) -> str:
    """The type of the payment event of a transaction entering ``status``."""
    return f"payment.transaction.{status}"


def transition_id(transaction_id: str, status: str) -> str:
    """One id per transition: the audit message's deduplication id and the event's id. The
    ``received`` transition keeps the transaction id alone (what it always was)."""
    return transaction_id if status == STATUS_RECEIVED else f"{transaction_id}.{status}"


def new_transaction_id() -> str:
    """``txn_`` + 24 base32 characters (120 random bits). Ids never contain what the masking that
    guards logs and responses would mask -- a PAN-like digit run, or digits after a CVC-like label
    (``...7cvc234...``) -- so it can never mangle one (the contract test met a 201 whose id was),
    nor what the writers refuse as card data."""
    while True:
        candidate = "txn_" + base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()
        if mask_text(candidate) == candidate and not contains_card_data(candidate):
            return candidate


def rfc3339_utc(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    created_at_ms: int
    client_id: str
    status: str
    amount: int
    currency: str
    merchant_reference: str
    card_brand: str
    card_last4: str
    card_fingerprint: str
    idempotency_record_id: str
    description: str | None = None
    metadata: dict[str, str] | None = None
    card_fingerprint_key_version: str = ""
    # Set with the outcome: declined and failed carry a machine-readable code, any outcome the
    # acquirer's reference (runtime/connector_protocol.py).
    decline_code: str | None = None
    acquirer_reference: str | None = None

    def public_view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "transaction_id": self.transaction_id,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "card": {"brand": self.card_brand, "last4": self.card_last4},
            "created_at": rfc3339_utc(self.created_at_ms),
            "merchant_reference": self.merchant_reference,
        }
        if self.description is not None:
            view["description"] = self.description
        if self.metadata:
            view["metadata"] = dict(self.metadata)
        if self.decline_code is not None:
            view["decline_code"] = self.decline_code
        if self.acquirer_reference is not None:
            view["acquirer_reference"] = self.acquirer_reference
        return view

    def audit_message(self, request_id: str, environment: str) -> str:
        return json.dumps(
            {
                "type": "transaction.created" if self.status == STATUS_RECEIVED else f"transaction.{self.status}",
                "transaction_id": self.transaction_id,
                "client_id": self.client_id,
                "request_id": request_id,
                "environment": environment,
                "created_at": rfc3339_utc(self.created_at_ms),
                "status": self.status,
                "amount": self.amount,
                "currency": self.currency,
                "merchant_reference": self.merchant_reference,
                "card": {"brand": self.card_brand, "last4": self.card_last4},
                **({"decline_code": self.decline_code} if self.decline_code is not None else {}),
                **({"acquirer_reference": self.acquirer_reference} if self.acquirer_reference is not None else {}),
            },
            separators=(",", ":"),
        )

    def payment_event(self, environment: str) -> str:
        return json.dumps(
            {
                "event_type": event_type(self.status),
                # Subscribers deduplicate on event_id: SNS standard topics deliver at least once.
                "event_id": transition_id(self.transaction_id, self.status),
                "client_id": self.client_id,
                "environment": environment,
                "transaction": self.public_view(),
            },
            separators=(",", ":"),
        )

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "transaction_id": text_value(self.transaction_id, "transaction_id"),
            "timestamp": epoch_ms_value(self.created_at_ms, "timestamp"),
            "record_type": {"S": RECORD_TYPE_TRANSACTION},
            "client_id": text_value(self.client_id, "client_id"),
            "status": text_value(self.status, "status"),
            "amount": whole_number(self.amount, "amount", minimum=0),
            "currency": text_value(self.currency, "currency"),
            "merchant_reference": text_value(self.merchant_reference, "merchant_reference"),
            "card_brand": text_value(self.card_brand, "card_brand"),
            "card_last4": text_value(self.card_last4, "card_last4"),
            "card_fingerprint": identifier_value(self.card_fingerprint, "card_fingerprint"),
            "card_fingerprint_key_version": identifier_value(self.card_fingerprint_key_version, "key_version"),
            "created_at": {"S": rfc3339_utc(self.created_at_ms)},
            "idempotency_record_id": identifier_value(self.idempotency_record_id, "idempotency_record_id"),
        }
        if self.description is not None:
            item["description"] = text_value(self.description, "description")
        if self.metadata:
            item["metadata"] = text_map_value(self.metadata, "metadata")
        if self.decline_code is not None:
            item["decline_code"] = text_value(self.decline_code, "decline_code")
        if self.acquirer_reference is not None:
            item["acquirer_reference"] = text_value(self.acquirer_reference, "acquirer_reference")
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Transaction:
        """The transaction as stored; RecordUnparseable names the field that is not as written."""
        read = ItemReader(item)
        return cls(
            transaction_id=read.text("transaction_id"),
            created_at_ms=read.whole_number("timestamp"),
            client_id=read.text("client_id"),
            status=read.text("status"),
            amount=read.whole_number("amount"),
            currency=read.text("currency"),
            merchant_reference=read.text("merchant_reference"),
            card_brand=read.text("card_brand"),
            card_last4=read.text("card_last4"),
            card_fingerprint=read.text("card_fingerprint"),
            idempotency_record_id=read.text("idempotency_record_id", ""),
            description=read.text("description", None),
            metadata=read.text_map("metadata") or None,
            card_fingerprint_key_version=read.text("card_fingerprint_key_version", ""),
            decline_code=read.text("decline_code", None),
            acquirer_reference=read.text("acquirer_reference", None),
        )


def idempotency_item(record: IdempotencyRecord, created_at_ms: int) -> dict[str, Any]:
    item = {
        "transaction_id": identifier_value(record.record_id, "record_id"),
        "timestamp": {"N": str(RECORD_SORT_KEY)},
        "record_type": {"S": RECORD_TYPE_IDEMPOTENCY},
        "client_id": text_value(record.client_id, "client_id"),
        "request_fingerprint": identifier_value(record.request_fingerprint, "request_fingerprint"),
        "target_transaction_id": text_value(record.transaction_id, "target_transaction_id"),
        "target_timestamp": epoch_ms_value(record.transaction_timestamp, "target_timestamp"),
        "dispatch_state": text_value(DispatchState(record.dispatch_state).value, "dispatch_state"),
        "audit_sent": flag_value(record.audit_sent, "audit_sent"),
        "event_published": flag_value(record.event_published, "event_published"),
        "lease_expires_at": epoch_ms_value(record.lease_expires_at_ms, "lease_expires_at"),
        "response_body": json_text_value(record.response_body, "response_body"),
        "expires_at": whole_number(epoch_seconds(created_at_ms) + RETENTION_SECONDS, "expires_at"),
        "request_id": text_value(record.request_id, "request_id"),
        "key_version": identifier_value(record.key_version, "key_version"),
    }
    if record.reconcile_attempts:
        item["reconcile_attempts"] = whole_number(record.reconcile_attempts, "reconcile_attempts", minimum=0)
    if record.dispatch_state is not DispatchState.COMPLETE:
        item[DISPATCH_PENDING_ATTRIBUTE] = {"S": dispatch_shard(record.record_id)}
    return item


def epoch_seconds(epoch_ms: int) -> int:
    epoch_ms_value(epoch_ms)  # refuses a non-int before the division hides it
    return epoch_ms // 1000


def idempotency_record_from_item(item: dict[str, Any]) -> IdempotencyRecord:
    """The record as stored -- the one reader for the processor's replay, its resumed dispatch and
    the reconciler; RecordUnparseable names the field that is not as written."""
    read = ItemReader(item)
    return IdempotencyRecord(
        record_id=read.text("transaction_id"),
        client_id=read.text("client_id"),
        request_fingerprint=read.text("request_fingerprint"),
        transaction_id=read.text("target_transaction_id"),
        transaction_timestamp=read.whole_number("target_timestamp"),
        dispatch_state=read.choice("dispatch_state", DispatchState),
        audit_sent=read.flag("audit_sent"),
        event_published=read.flag("event_published"),
        lease_expires_at_ms=read.whole_number("lease_expires_at"),
        response_body=read.text("response_body"),
        request_id=read.text("request_id", ""),
        reconcile_attempts=read.whole_number("reconcile_attempts", 0),
        key_version=read.text("key_version", ""),
    )
