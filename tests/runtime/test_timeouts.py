"""A dependency that stalls yields a 503 with Retry-After before the function itself would time
out: each AWS attempt's timeouts are sized from the invocation, and neither an attempt nor a retry
starts when it could not end before the deadline."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

from payments_platform.runtime import aws_clients, transactions
from payments_platform.runtime.aws_clients import CallTimeouts
from payments_platform.runtime.deadline import RESPONSE_RESERVE_MS, invocation_deadline

from .support import RUNTIME_ENV, api_event, body_of, reset_runtime_caches, valid_body

INVOCATION_MS = 3000


class StallingEndpoint:
    """A loopback HTTP endpoint that accepts connections, reads the request and never answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._held.append(connection)  # held open, never answered

    def __enter__(self) -> StallingEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for connection in self._held:
            connection.close()
        self._listener.close()


class Context:
    """A Lambda context whose clock really runs down, like the real one."""

    function_name = "payments-test-transactions"
    aws_request_id = "lambda-req-stall"

    def __init__(self, timeout_ms: int) -> None:
        self._ends = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


@contextlib.contextmanager
def stalled(monkeypatch, *endpoint_variables: str) -> Iterator[StallingEndpoint]:
    for name, value in RUNTIME_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUDIT_QUEUE_URL", "http://127.0.0.1:9/queue/audit.fifo")
    monkeypatch.setenv("NOTIFICATIONS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:events")
    with StallingEndpoint() as endpoint:
        for name in endpoint_variables:
            monkeypatch.setenv(name, endpoint.url)
        reset_runtime_caches()
        try:
            yield endpoint
        finally:
            reset_runtime_caches()


def test_a_stalled_table_write_is_503_with_retry_after_before_the_function_times_out(monkeypatch):
    with stalled(monkeypatch, "AWS_ENDPOINT_URL_DYNAMODB") as endpoint:
        started = time.monotonic()
        response = transactions.handler(api_event(valid_body()), Context(INVOCATION_MS))
        elapsed_ms = (time.monotonic() - started) * 1000
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "1"
    assert body_of(response)["error"]["code"] == "service_unavailable"
    assert elapsed_ms < INVOCATION_MS - RESPONSE_RESERVE_MS / 2
    assert endpoint.connections >= 1  # the call was really attempted, not refused up front


def test_a_timed_out_attempt_is_retried_only_while_a_retry_can_finish_before_the_deadline(monkeypatch):
    invocation_ms = 6000  # attempts of ~1.8 s: a second fits, a third (after back-off) would not
    with stalled(monkeypatch, "AWS_ENDPOINT_URL_DYNAMODB") as endpoint:
        started = time.monotonic()
        response = transactions.handler(api_event(valid_body()), Context(invocation_ms))
        elapsed_ms = (time.monotonic() - started) * 1000
    assert response["statusCode"] == 503
    assert endpoint.connections == 2
    assert elapsed_ms < invocation_ms - RESPONSE_RESERVE_MS / 2


def test_timeouts_are_sized_so_every_attempt_fits_the_invocation():
    for invocation_ms in (3000, 10_000, 29_000):
        timeouts = CallTimeouts.for_invocation(invocation_ms)
        assert timeouts.max_attempts * timeouts.attempt_ms <= invocation_ms - RESPONSE_RESERVE_MS
        assert timeouts.connect_seconds <= 1.0
    assert CallTimeouts.for_invocation(29_000).attempt_ms == 4000  # long invocations: capped per attempt


def test_clients_use_standard_retry_mode_and_the_sized_timeouts(monkeypatch):
    for name, value in RUNTIME_ENV.items():
        monkeypatch.setenv(name, value)
    aws_clients.reset_clients()
    try:
        with invocation_deadline(INVOCATION_MS):
            config = aws_clients.client("sqs").meta.config
        expected = CallTimeouts.for_invocation(INVOCATION_MS)
        assert (config.connect_timeout, config.read_timeout) == (expected.connect_seconds, expected.read_seconds)
        assert config.retries == {"mode": "standard", "total_max_attempts": expected.max_attempts}
    finally:
        aws_clients.reset_clients()


def test_an_attempt_is_refused_when_it_could_not_finish_before_the_deadline(monkeypatch):
    with stalled(monkeypatch, "AWS_ENDPOINT_URL_DYNAMODB") as endpoint:
        with invocation_deadline(INVOCATION_MS):
            aws_clients.client("dynamodb")  # sized for a 3 s invocation
        response = transactions.handler(api_event(valid_body()), Context(RESPONSE_RESERVE_MS + 100))
    assert response["statusCode"] == 503
    assert endpoint.connections == 0


def test_a_stalled_queue_after_the_write_is_dispatch_incomplete_and_the_retry_converges(aws, monkeypatch):
    with StallingEndpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", endpoint.url)
        reset_runtime_caches()
        response = transactions.handler(api_event(valid_body(), idempotency_key="stall-sqs"), Context(INVOCATION_MS))
    assert response["statusCode"] == 503
    assert body_of(response)["error"]["code"] == "dispatch_incomplete"
    assert len(aws.transaction_items()) == 1

    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS")
    reset_runtime_caches()
    retry = transactions.handler(api_event(valid_body(), idempotency_key="stall-sqs"), Context(INVOCATION_MS))
    assert retry["statusCode"] == 201 and retry["headers"]["Idempotent-Replayed"] == "true"
    assert len(aws.audit_messages()) == 1 and len(aws.topic_messages()) == 1


def test_without_a_lambda_context_attempts_get_the_longest_timeouts():
    assert CallTimeouts.for_invocation(None) == CallTimeouts(connect_seconds=1.0, read_seconds=3.0)
