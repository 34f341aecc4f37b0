"""Idempotency (IETF httpapi Idempotency-Key draft) without a GSI.

Each (client, Idempotency-Key) pair owns one *idempotency record* in the transactions table,
under the partition key ``idem_<HMAC(client, key)>`` and sort key 0. It is written in the same
DynamoDB transaction as the transaction record, conditional on not existing, so two concurrent
requests with one key produce exactly one transaction. The record holds only a keyed fingerprint
of the request (card number replaced by its HMAC, CVC excluded -- PCI DSS 3.3.1 forbids keeping
anything derived from it), the id of the transaction, the response to replay and the dispatch
state of the audit message and payment event.

Dispatch state:

* ``dispatching`` -- written with the record, with a lease. While the lease runs a duplicate gets
  409 (the request is truly in flight); once it has expired without anyone recording an outcome,
  the dispatch is taken as done.
* ``complete`` -- written as the fourth AWS call of the happy path, right after the audit message
  and the payment event went out, so a client that retries after its 201 gets the replay at once.
  Also written when a retry has finished an incomplete dispatch.
* ``incomplete`` -- written (off the happy path) when the queue or topic call failed, naming what
  was sent. A retry with the same key claims it and sends only what is missing.

Until ``complete`` the record carries ``dispatch_pending``, which puts it in a sparse index: the
reconciler (reconciler.py) finishes every dispatch left ``incomplete``, or ``dispatching`` past its
lease, without waiting for the client to retry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from enum import Enum

from .settings import FingerprintKeys
from .validation import NewTransaction

# Upper bound of the lease: longer than the 29 s API Gateway integration timeout. The lease a
# request actually takes is the time its Lambda invocation has left (plus a margin), because
# after that deadline the request is certainly no longer running.
DISPATCH_LEASE_MS = 30_000
LEASE_MARGIN_MS = 1_000


def lease_ms_for(remaining_time_ms: float | None) -> int:
    """Whole milliseconds, whatever the caller measured: the lease is stored and parsed as an integer."""
    if remaining_time_ms is None or remaining_time_ms <= 0:
        return DISPATCH_LEASE_MS
    return min(DISPATCH_LEASE_MS, math.ceil(remaining_time_ms) + LEASE_MARGIN_MS)


# How long a key is remembered (the draft leaves it to the server; 24 h is the industry norm).
# Enforced by DynamoDB TTL on ``expires_at`` where the table enables it.
RETENTION_SECONDS = 24 * 3600
RECORD_ID_PREFIX = "idem_"
RECORD_SORT_KEY = 0

# The sparse index the reconciler reads (the storage plugin defines it): a record carries
# ``dispatch_pending`` from its write until its dispatch is recorded complete. Spread over a few
# index partitions so the index never concentrates the table's whole write rate on one key
# (DynamoDB: 1,000 writes/s per partition).
DISPATCH_PENDING_ATTRIBUTE = "dispatch_pending"
DISPATCH_INDEX_SHARDS = 4


def dispatch_shard(record_id: str) -> str:
    return f"pending-{int(hashlib.sha256(record_id.encode()).hexdigest()[:8], 16) % DISPATCH_INDEX_SHARDS}"


def dispatch_shards() -> tuple[str, ...]:
    return tuple(f"pending-{n}" for n in range(DISPATCH_INDEX_SHARDS))


class DispatchState(str, Enum):
    DISPATCHING = "dispatching"
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"


class Decision(str, Enum):
    REPLAY = "replay"
    RESUME_DISPATCH = "resume_dispatch"
    IN_PROGRESS = "in_progress"
    KEY_REUSED = "key_reused"


@dataclass(frozen=True)
class IdempotencyRecord:
    record_id: str
    client_id: str
    request_fingerprint: str
    transaction_id: str
    transaction_timestamp: int
    dispatch_state: DispatchState
    audit_sent: bool
    event_published: bool
    lease_expires_at_ms: int
    response_body: str
    request_id: str = ""  # the creating request's id, repeated in a reconciled audit message
    reconcile_attempts: int = 0
    key_version: str = ""  # the fingerprint key version of its id and request fingerprint

    def lease_remaining_seconds(self, now_ms: int) -> int:
        return max(1, math.ceil((self.lease_expires_at_ms - now_ms) / 1000))


def record_id(keys: FingerprintKeys, client_id: str, key: str) -> str:
    message = client_id.encode("utf-8") + b"\x00" + key.encode("ascii")
    return RECORD_ID_PREFIX + hmac.new(keys.idempotency, message, hashlib.sha256).hexdigest()


def request_fingerprint(keys: FingerprintKeys, card_fingerprint: str, request: NewTransaction) -> str:
    """A keyed hash of the canonical request: field order and whitespace do not matter, the PAN
    enters only as its HMAC fingerprint and the CVC not at all."""
    canonical = {
        "amount": request.amount,
        "currency": request.currency,
        "merchant_reference": request.merchant_reference,
        "description": request.description,
        "metadata": request.metadata,
        "card": {
            "fingerprint": card_fingerprint,
            "exp_month": request.card.exp_month,
            "exp_year": request.card.exp_year,
        },
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(keys.request, text.encode("ascii"), hashlib.sha256).hexdigest()


def decide(existing: IdempotencyRecord, client_id: str, fingerprint: str, now_ms: int) -> Decision:
    """What a request that found ``existing`` under its key must do."""
    if existing.client_id != client_id or not hmac.compare_digest(existing.request_fingerprint, fingerprint):
        return Decision.KEY_REUSED
    if existing.dispatch_state is DispatchState.INCOMPLETE:
        return Decision.RESUME_DISPATCH
    if existing.dispatch_state is DispatchState.DISPATCHING and now_ms < existing.lease_expires_at_ms:
        return Decision.IN_PROGRESS
    return Decision.REPLAY
