from __future__ import annotations

import pytest
import structlog

from .support import AwsResources, aws_environment


@pytest.fixture(autouse=True)
def no_request_context_from_an_earlier_test():
    """A handler binds its request's context (request id, transaction id) for its log lines and a
    Lambda's next invocation replaces it; in this one process it would stay into the next test's
    lines, where a request id's digits can hold the "987" or "0566" a card-data check looks for
    (test_logging's masking test failed once after the handler tests, and passed alone)."""
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def aws(monkeypatch) -> AwsResources:
    with aws_environment(monkeypatch) as resources:
        yield resources
