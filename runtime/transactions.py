"""Lambda handler for POST /transactions (``payments_runtime.transactions.handler``)."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

from .api_event import ApiRequest
from .aws_clients import client, invoke_client
from .connector_client import ConnectorClient
from .dispatch import TransactionDispatcher
from .fingerprint_keyring import KeyringSource
from .fingerprint_secret import load_fingerprint_keyring
from .logging_config import bind, configure_logging
from .request_handling import EndpointResult, serve
from .settings import (
    audit_queue_url,
    authorization_budget_ms,
    connector_function_name,
    environment_name,
    notifications_topic_arn,
    transactions_table_name,
)
from .transaction_creation import TransactionCreator
from .transaction_lifecycle import TransactionLifecycle
from .transaction_records import STATUS_PROCESSING, STATUS_RECEIVED
from .transaction_store import TransactionStore
from .validation import idempotency_key, parse_json_body, require_json_content_type, validate_create_transaction

configure_logging()


@functools.lru_cache(maxsize=1)
def transaction_creator() -> TransactionCreator:
    """Built once per container, at the first request (settings and the secret are read lazily;
    a failure is not cached, so the next request tries again)."""
    store = TransactionStore(client("dynamodb"), transactions_table_name())
    dispatcher = TransactionDispatcher(
        client("sqs"), client("sns"), audit_queue_url(), notifications_topic_arn(), environment_name()
    )
    return TransactionCreator(
        store=store,
        dispatcher=dispatcher,
        keyring=KeyringSource(load_fingerprint_keyring),
        lifecycle=transaction_lifecycle(store, dispatcher),
    )


def transaction_lifecycle(store: TransactionStore, dispatcher: TransactionDispatcher) -> TransactionLifecycle | None:
    """Where a payment connector is enabled (CONNECTOR_FUNCTION_NAME), the lifecycle that asks it;
    None in an intake-only environment."""
    connector = connector_function_name()
    if connector is None:
        return None
    return TransactionLifecycle(store, dispatcher, ConnectorClient(invoke_client, connector), authorization_budget_ms())


def response_status(body_text: str, processed: bool) -> int:
    """201 for a transaction with its outcome (or, intake only, ``received``); 202 while the outcome
    is unknown -- ``processing``, or ``received`` where a connector will process it (a replay of a
    request cut short before it asked): the outcome follows through GET /status and the event. A
    decline is a 201 too: the payment was recorded and answered (docs/openapi.yaml says why)."""
    status = json.loads(body_text).get("status")
    return 202 if status == STATUS_PROCESSING or (processed and status == STATUS_RECEIVED) else 201


def create_transaction(request: ApiRequest) -> EndpointResult:
    key = idempotency_key(request.header("Idempotency-Key"))
    require_json_content_type(request.header("Content-Type"))
    new_transaction = validate_create_transaction(parse_json_body(request.body()), datetime.now(UTC).date())
    creator = transaction_creator()
    result = creator.create(request.client_id, key, new_transaction, request.request_id, request.remaining_time_ms)
    bind(transaction_id=result.transaction_id)
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return EndpointResult(
        status=response_status(result.response_body, processed=creator.processes_payments),
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
