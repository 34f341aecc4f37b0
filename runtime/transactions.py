"""Lambda handler for POST /transactions (``payments_runtime.transactions.handler``)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from .api_event import ApiRequest
from .aws_clients import client
from .dispatch import TransactionDispatcher
from .fingerprint_keyring import KeyringSource
from .fingerprint_secret import load_fingerprint_keyring
from .logging_config import bind, configure_logging
from .request_handling import EndpointResult, serve
from .settings import audit_queue_url, environment_name, notifications_topic_arn, transactions_table_name
from .transaction_creation import TransactionCreator
from .transaction_store import TransactionStore
from .validation import idempotency_key, parse_json_body, require_json_content_type, validate_create_transaction

configure_logging()


@functools.lru_cache(maxsize=1)
def transaction_creator() -> TransactionCreator:
    """Built once per container, at the first request (settings and the secret are read lazily;
    a failure is not cached, so the next request tries again)."""
    return TransactionCreator(
        store=TransactionStore(client("dynamodb"), transactions_table_name()),
        dispatcher=TransactionDispatcher(
            client("sqs"), client("sns"), audit_queue_url(), notifications_topic_arn(), environment_name()
        ),
        keyring=KeyringSource(load_fingerprint_keyring),
    )


def create_transaction(request: ApiRequest) -> EndpointResult:
    key = idempotency_key(request.header("Idempotency-Key"))
    require_json_content_type(request.header("Content-Type"))
    new_transaction = validate_create_transaction(parse_json_body(request.body()), datetime.now(UTC).date())
    result = transaction_creator().create(
        request.client_id, key, new_transaction, request.request_id, request.remaining_time_ms
    )
    bind(transaction_id=result.transaction_id)
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return EndpointResult(
        status=201,
        body_text=result.response_body,
        headers=headers,
        outcome=result.outcome,
        audit={
            "amount": new_transaction.amount,
            "currency": new_transaction.currency,
            "card_brand": new_transaction.card.brand,
        },
    )


def handler(event: Any, context: Any) -> dict[str, Any]:
    return serve(event, context, operation="create_transaction", method="POST", endpoint=create_transaction)
