"""botocore clients, created once per container at first use, and the classification of AWS
failures.

Cold start: botocore is used directly (boto3's import adds s3transfer, ~200 ms), and
botocore.session -- whose import chain (urllib3, http.client, the docs machinery) costs ~200 ms
-- is imported inside ``client()``, so importing a handler module stays well under 300 ms and
the cost lands on the first request that needs AWS. Endpoints come from botocore's own configuration chain,
so AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_DYNAMODB etc. point the same code at a local emulator."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError, HTTPClientError

# Short timeouts and one retry: the whole request must fit API Gateway's 29 s integration limit,
# and the client is told to retry (503 + Retry-After) rather than waiting on a slow dependency.
CLIENT_SETTINGS: dict[str, Any] = {
    "connect_timeout": 1,
    "read_timeout": 3,
    "retries": {"mode": "standard", "max_attempts": 2},
    "tcp_keepalive": True,
    "max_pool_connections": 10,
}

RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "ThrottledException",
        "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
        "TransactionInProgressException", "LimitExceededException", "ServiceUnavailable", "ServiceUnavailableException",
        "InternalServerError", "InternalFailure", "InternalError", "KMSThrottlingException", "KMSThrottling",
        "AWS.SimpleQueueService.RequestThrottled", "AWS.SimpleQueueService.ServiceUnavailable",
    }
)

_lock = threading.Lock()
_session: Any = None
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """The container's client for ``service`` (dynamodb, sqs, sns, secretsmanager)."""
    existing = _clients.get(service)
    if existing is not None:
        return existing
    global _session
    with _lock:
        if service not in _clients:
            import botocore.session
            from botocore.config import Config

            if _session is None:
                _session = botocore.session.get_session()
            _clients[service] = _session.create_client(service, config=Config(**CLIENT_SETTINGS))
        return _clients[service]


def reset_clients() -> None:
    """Forget the cached clients (tests switch emulators and settings between cases). The session,
    with its cache of parsed service models, is kept."""
    with _lock:
        _clients.clear()


def error_code(error: BaseException) -> str | None:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code")
    return None


def is_retryable(error: BaseException) -> bool:
    """Throttling, service unavailability and transport failures: the request may succeed later."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error_code(error) in RETRYABLE_ERROR_CODES or (isinstance(status, int) and status >= 500)
    return isinstance(error, (BotoConnectionError, HTTPClientError)) or (
        isinstance(error, BotoCoreError) and "timeout" in type(error).__name__.lower()
    )
