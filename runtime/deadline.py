"""The invocation's deadline. Every AWS call, its retries and their back-off must end before the
function times out: a slow dependency then becomes a 503 with Retry-After, which tells the client
to repeat the request with the same Idempotency-Key. A Lambda timeout would instead surface as
API Gateway's 502/504, after which the client cannot tell whether its payment was recorded.

``serve`` opens the deadline from ``context.get_remaining_time_in_millis()``; aws_clients sizes
its timeouts from it and refuses an attempt (or a retry) that could not finish before it."""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError

# Kept back from every deadline for what follows the last AWS call: the 503 body, the audit log
# line, recording an incomplete dispatch.
RESPONSE_RESERVE_MS = 500

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("invocation_deadline", default=None)
_budget_ms: contextvars.ContextVar[int | None] = contextvars.ContextVar("invocation_budget_ms", default=None)


class InvocationDeadlineExceeded(BotoCoreError):  # type: ignore[misc]  # botocore ships no stubs
    """An AWS call (or its retry) could not finish before the invocation's deadline."""

    fmt = "not enough invocation time left for {operation} ({remaining_ms} ms left, {needed_ms} ms needed)"


@contextlib.contextmanager
def invocation_deadline(remaining_ms: int | None) -> Iterator[None]:
    """While inside, AWS calls must finish ``RESPONSE_RESERVE_MS`` before ``remaining_ms`` runs out.
    ``None`` (no Lambda context: scripts, some tests) sets no deadline."""
    if remaining_ms is None:
        yield
        return
    deadline_token = _deadline.set(time.monotonic() + remaining_ms / 1000)
    budget_token = _budget_ms.set(remaining_ms)
    try:
        yield
    finally:
        _deadline.reset(deadline_token)
        _budget_ms.reset(budget_token)


def remaining_ms() -> int | None:
    """Whole milliseconds left for AWS calls (the reserve already deducted, rounded down), or None
    without a deadline. An integer: leases are stored from it, and records hold integer ms."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return math.floor((deadline - time.monotonic()) * 1000) - RESPONSE_RESERVE_MS


def invocation_budget_ms() -> int | None:
    """The whole invocation's time as it was when the deadline was opened."""
    return _budget_ms.get()
