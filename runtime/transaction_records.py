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
from .redaction import mask_text

STATUS_RECEIVED = "received"
# The lifecycle: this runtime only ever writes "received" (durably accepted, queued for
# downstream processing -- there is no card-network connection here). Downstream processors
# move a transaction on to the others.
TRANSACTION_STATUSES = ("received", "processing", "authorized", "declined", "failed")
RECORD_TYPE_TRANSACTION = "transaction"
RECORD_TYPE_IDEMPOTENCY = "idempotency_key"
EVENT_TYPE_RECEIVED = "payment.transaction.received"


def new_transaction_id() -> str:
    """``txn_`` + 24 base32 characters (120 random bits). Ids never contain what the masking that
    guards logs and responses would mask -- a PAN-like digit run, or digits after a CVC-like label
    (``...7cvc234...``) -- so it can never mangle one (the contract test met a 201 whose id was)."""
    while True:
        candidate = "txn_" + base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()
        if mask_text(candidate) == candidate:
            return candidate


def epoch_ms_value(value: int) -> dict[str, str]:
    """A DynamoDB number holding whole milliseconds. Refuses anything else at write time: every
    reader parses these with int(), so a fractional value written here would strand the record."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"epoch milliseconds must be an int, got {type(value).__name__} {value!r}")
    return {"N": str(value)}


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
        return view

    def audit_message(self, request_id: str, environment: str) -> str:
        return json.dumps(
            {
                "type": "transaction.created",
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
            },
            separators=(",", ":"),
        )

    def payment_event(self, environment: str) -> str:
        return json.dumps(
            {
                "event_type": EVENT_TYPE_RECEIVED,
                # Subscribers deduplicate on event_id: SNS standard topics deliver at least once.
                "event_id": self.transaction_id,
                "client_id": self.client_id,
                "environment": environment,
                "transaction": self.public_view(),
            },
            separators=(",", ":"),
        )

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "transaction_id": {"S": self.transaction_id},
            "timestamp": epoch_ms_value(self.created_at_ms),
            "record_type": {"S": RECORD_TYPE_TRANSACTION},
            "client_id": {"S": self.client_id},
            "status": {"S": self.status},
            "amount": {"N": str(self.amount)},
            "currency": {"S": self.currency},
            "merchant_reference": {"S": self.merchant_reference},
            "card_brand": {"S": self.card_brand},
            "card_last4": {"S": self.card_last4},
            "card_fingerprint": {"S": self.card_fingerprint},
            "card_fingerprint_key_version": {"S": self.card_fingerprint_key_version},
            "created_at": {"S": rfc3339_utc(self.created_at_ms)},
            "idempotency_record_id": {"S": self.idempotency_record_id},
        }
        if self.description is not None:
            item["description"] = {"S": self.description}
        if self.metadata:
            item["metadata"] = {"M": {k: {"S": v} for k, v in self.metadata.items()}}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Transaction:
        metadata = item.get("metadata", {}).get("M")
        return cls(
            transaction_id=item["transaction_id"]["S"],
            created_at_ms=int(item["timestamp"]["N"]),
            client_id=item["client_id"]["S"],
            status=item["status"]["S"],
            amount=int(item["amount"]["N"]),
            currency=item["currency"]["S"],
            merchant_reference=item["merchant_reference"]["S"],
            card_brand=item["card_brand"]["S"],
            card_last4=item["card_last4"]["S"],
            card_fingerprint=item["card_fingerprint"]["S"],
            idempotency_record_id=item.get("idempotency_record_id", {}).get("S", ""),
            description=item.get("description", {}).get("S"),
            metadata={k: v["S"] for k, v in metadata.items()} if metadata else None,
            card_fingerprint_key_version=item.get("card_fingerprint_key_version", {}).get("S", ""),
        )


def idempotency_item(record: IdempotencyRecord, created_at_ms: int) -> dict[str, Any]:
    item = {
        "transaction_id": {"S": record.record_id},
        "timestamp": {"N": str(RECORD_SORT_KEY)},
        "record_type": {"S": RECORD_TYPE_IDEMPOTENCY},
        "client_id": {"S": record.client_id},
        "request_fingerprint": {"S": record.request_fingerprint},
        "target_transaction_id": {"S": record.transaction_id},
        "target_timestamp": epoch_ms_value(record.transaction_timestamp),
        "dispatch_state": {"S": record.dispatch_state.value},
        "audit_sent": {"BOOL": record.audit_sent},
        "event_published": {"BOOL": record.event_published},
        "lease_expires_at": epoch_ms_value(record.lease_expires_at_ms),
        "response_body": {"S": record.response_body},
        "expires_at": {"N": str(created_at_ms // 1000 + RETENTION_SECONDS)},
        "request_id": {"S": record.request_id},
        "key_version": {"S": record.key_version},
    }
    if record.dispatch_state is not DispatchState.COMPLETE:
        item[DISPATCH_PENDING_ATTRIBUTE] = {"S": dispatch_shard(record.record_id)}
    return item


def idempotency_record_from_item(item: dict[str, Any]) -> IdempotencyRecord:
    return IdempotencyRecord(
        record_id=item["transaction_id"]["S"],
        client_id=item["client_id"]["S"],
        request_fingerprint=item["request_fingerprint"]["S"],
        transaction_id=item["target_transaction_id"]["S"],
        transaction_timestamp=int(item["target_timestamp"]["N"]),
        dispatch_state=DispatchState(item["dispatch_state"]["S"]),
        audit_sent=item["audit_sent"]["BOOL"],
        event_published=item["event_published"]["BOOL"],
        lease_expires_at_ms=int(item["lease_expires_at"]["N"]),
        response_body=item["response_body"]["S"],
        request_id=item.get("request_id", {}).get("S", ""),
        reconcile_attempts=int(item.get("reconcile_attempts", {}).get("N", "0")),
        key_version=item.get("key_version", {}).get("S", ""),
    )
