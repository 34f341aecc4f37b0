"""botocore clients, created once per container at first use, and the classification of AWS
failures.

Cold start: botocore is used directly (boto3's import adds s3transfer, ~200 ms), and
botocore.session -- whose import chain (urllib3, http.client, the docs machinery) costs ~200 ms
-- is imported inside ``client()``, so importing a handler module stays well under 300 ms and
the cost lands on the first request that needs AWS. Endpoints come from botocore's own configuration chain,
so AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_DYNAMODB etc. point the same code at a local emulator."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .deadline import RESPONSE_RESERVE_MS, InvocationDeadlineExceeded, invocation_budget_ms, remaining_ms

# Standard retry mode (token-bucket retry quota, exponential back-off with jitter), at most three
# attempts; each attempt's connect and read timeouts are sized so that all of them fit the invocation.
MAX_ATTEMPTS = 3
MAX_CONNECT_SECONDS = 1.0
MAX_ATTEMPT_SECONDS = 4.0
MIN_ATTEMPT_SECONDS = 0.3
# Standard mode's longest back-off before attempt n+1 (throttling: random() * 2**(n-1) s).
WORST_BACKOFF_SECONDS = {1: 1.0, 2: 2.0}


@dataclass(frozen=True)
class CallTimeouts:
    connect_seconds: float
    read_seconds: float
    max_attempts: int = MAX_ATTEMPTS

    @property
    def attempt_ms(self) -> float:
        return (self.connect_seconds + self.read_seconds) * 1000

    @classmethod
    def for_invocation(cls, invocation_ms: int | None) -> CallTimeouts:
        """Every attempt of one call fits the invocation's time (less the response reserve); an
        attempt never waits longer than MAX_ATTEMPT_SECONDS, a connection never longer than 1 s."""
        if invocation_ms is None:
            attempt = MAX_ATTEMPT_SECONDS
        else:
            budget = max(0.0, (invocation_ms - RESPONSE_RESERVE_MS) / 1000)
            attempt = min(MAX_ATTEMPT_SECONDS, max(MIN_ATTEMPT_SECONDS, budget / MAX_ATTEMPTS))
        connect = math.floor(min(MAX_CONNECT_SECONDS, attempt / 4) * 1000) / 1000  # whole ms, rounded down
        return cls(connect_seconds=connect, read_seconds=math.floor((attempt - connect) * 1000) / 1000)

    def config_settings(self) -> dict[str, Any]:
        return {
            "connect_timeout": self.connect_seconds,
            "read_timeout": self.read_seconds,
            "retries": {"mode": "standard", "total_max_attempts": self.max_attempts},
            "tcp_keepalive": True,
            "max_pool_connections": 10,
        }


RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "TransactionInProgressException",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "KMSThrottlingException",
        "KMSThrottling",
        "AWS.SimpleQueueService.RequestThrottled",
        "AWS.SimpleQueueService.ServiceUnavailable",
    }
)

_lock = threading.Lock()
_session: Any = None
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """The container's client for ``service`` (dynamodb, sqs, sns, secretsmanager). Its timeouts
    are sized from the invocation that first asks for it (every invocation of a function has the
    same timeout); each attempt and each retry is then checked against the current deadline."""

    def create(session: Any, config_class: Any) -> Any:
        timeouts = CallTimeouts.for_invocation(invocation_budget_ms())
        created = session.create_client(service, config=config_class(**timeouts.config_settings()))
        _bound_by_deadline(created, timeouts)
        return created

    return _cached(service, create)


def invoke_client(read_timeout_ms: int) -> Any:
    """A Lambda client for synchronous invokes answering within ``read_timeout_ms`` (one per
    timeout, cached): one attempt, never retried by botocore -- the caller decides what a call
    without an answer means (a payment connector's: ask its status later)."""

    def create(session: Any, config_class: Any) -> Any:
        seconds = read_timeout_ms / 1000
        config = config_class(
            connect_timeout=min(MAX_CONNECT_SECONDS, seconds),
            read_timeout=seconds,
            retries={"mode": "standard", "total_max_attempts": 1},
            tcp_keepalive=True,
        )
        return session.create_client("lambda", config=config)

    return _cached(f"lambda-invoke-{read_timeout_ms}", create)


def _cached(name: str, create: Any) -> Any:
    existing = _clients.get(name)
    if existing is not None:
        return existing
    global _session
    with _lock:
        if name not in _clients:
            import botocore.session
            from botocore.config import Config

            if _session is None:
                _session = botocore.session.get_session()
            _clients[name] = create(_session, Config)
        return _clients[name]


def _bound_by_deadline(aws_client: Any, timeouts: CallTimeouts) -> None:
    """Refuse an attempt that could not end before the deadline (before-send), and a retry whose
    worst back-off plus attempt could not (needs-retry, ahead of botocore's own retry handler)."""

    def before_send(request: Any = None, **kwargs: Any) -> None:
        left = remaining_ms()
        if left is not None and left < timeouts.attempt_ms:
            raise InvocationDeadlineExceeded(
                operation=kwargs.get("event_name", "an AWS call"),
                remaining_ms=int(left),
                needed_ms=int(timeouts.attempt_ms),
            )

    def needs_retry(attempts: int = 0, response: Any = None, caught_exception: Any = None, **kwargs: Any) -> None:
        left = remaining_ms()
        if left is None or attempts >= timeouts.max_attempts or not _may_be_retried(response, caught_exception):
            return
        needed = WORST_BACKOFF_SECONDS.get(attempts, MAX_ATTEMPT_SECONDS) * 1000 + timeouts.attempt_ms
        if left < needed:
            raise InvocationDeadlineExceeded(
                operation=f"a retry of {getattr(kwargs.get('operation'), 'name', 'an AWS call')}",
                remaining_ms=int(left),
                needed_ms=int(needed),
            )

    aws_client.meta.events.register_first("before-send", before_send)
    aws_client.meta.events.register_first("needs-retry", needs_retry)


def _may_be_retried(response: Any, caught_exception: Any) -> bool:
    """Whether botocore's standard retry mode could retry this outcome (a conditional-check
    failure, say, is final and must keep its own error)."""
    if caught_exception is not None:
        return not isinstance(caught_exception, InvocationDeadlineExceeded)
    if not response:
        return False
    http_response, parsed = response
    code = (parsed or {}).get("Error", {}).get("Code")
    return http_response.status_code >= 500 or http_response.status_code == 429 or code in RETRYABLE_ERROR_CODES


def reset_clients() -> None:
    """Forget the cached clients (tests switch emulators and settings between cases). The session,
    with its cache of parsed service models, is kept."""
    with _lock:
        _clients.clear()


def error_code(error: BaseException) -> str | None:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def is_retryable(error: BaseException) -> bool:
    """Throttling, service unavailability and transport failures: the request may succeed later."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error_code(error) in RETRYABLE_ERROR_CODES or (isinstance(status, int) and status >= 500)
    return isinstance(error, (BotoConnectionError, HTTPClientError, InvocationDeadlineExceeded)) or (
        isinstance(error, BotoCoreError) and "timeout" in type(error).__name__.lower()
    )
