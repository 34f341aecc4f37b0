"""Lambda handler for GET /status?transaction_id=... (``payments_runtime.status.handler``)."""

from __future__ import annotations

import functools
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .api_event import ApiRequest
from .aws_clients import client, is_retryable
from .errors import NotFoundError
from .logging_config import bind, configure_logging
from .request_handling import EndpointResult, serve
from .settings import transactions_table_name
from .transaction_creation import unavailable
from .transaction_store import TransactionStore
from .validation import transaction_id_from_query

configure_logging()


@functools.lru_cache(maxsize=1)
def transaction_store() -> TransactionStore:
    return TransactionStore(client("dynamodb"), transactions_table_name())


def read_status(request: ApiRequest) -> EndpointResult:
    transaction_id = transaction_id_from_query(request.query)
    bind(transaction_id=transaction_id)
    try:
        transaction = transaction_store().find_transaction(transaction_id)
    except (ClientError, BotoCoreError) as error:
        if is_retryable(error):
            raise unavailable(error) from None
        raise
    # Tenant isolation: another client's transaction is indistinguishable from a missing one.
    if transaction is None or transaction.client_id != request.client_id:
        raise NotFoundError("transaction_not_found", "No such transaction.", param="transaction_id")
    return EndpointResult(
        status=200, body=transaction.public_view(), outcome="read", audit={"transaction_status": transaction.status}
    )


def handler(event: Any, context: Any) -> dict[str, Any]:
    return serve(event, context, operation="read_status", method="GET", endpoint=read_status)
