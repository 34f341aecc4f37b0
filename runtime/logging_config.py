"""The one structlog configuration of the runtime: JSON lines on stdout for CloudWatch.

Every event passes ``redact_card_data`` after exceptions have been rendered to text and
immediately before rendering, so no processor and no caller can put a PAN or CVC in a log line
(PCI DSS 3.4.1 / 10.3). Audit events (PCI DSS 10.2) are logged at INFO; LOG_LEVEL may lower the
threshold to DEBUG but cannot raise it above INFO, so the audit trail cannot be switched off.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from .redaction import redact_for_log
from .settings import environment_name, function_name

SERVICE_NAME = "payments-api"
AUDIT_LEVEL = logging.INFO
_configured = False


def redact_card_data(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    """structlog processor: masks PAN candidates and CVC-like fields anywhere in the event."""
    redacted: dict[str, Any] = redact_for_log(dict(event_dict))
    return redacted


def add_runtime_context(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    trace = os.environ.get("_X_AMZN_TRACE_ID")  # set by Lambda per invocation
    if trace:
        root = next((part[5:] for part in trace.split(";") if part.startswith("Root=")), trace)
        event_dict.setdefault("xray_trace_id", root)
    event_dict.setdefault("function", function_name())
    event_dict.setdefault("environment", environment_name())
    event_dict.setdefault("service", SERVICE_NAME)
    return event_dict


class StdoutLogger:
    """Writes each rendered line to the current sys.stdout (so test capture sees it)."""

    def msg(self, message: str) -> None:
        sys.stdout.write(message + "\n")

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _serialize(value: Any, **kwargs: Any) -> str:
    # ensure_ascii: lone surrogates or control characters in client input cannot break a line.
    return json.dumps(value, default=str, ensure_ascii=True, separators=(",", ":"))


def _threshold() -> int:
    name = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        level = logging.INFO
    return min(level, AUDIT_LEVEL)


def configure_logging(force: bool = False) -> None:
    global _configured
    if _configured and not force:
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            add_runtime_context,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact_card_data,
            structlog.processors.JSONRenderer(serializer=_serialize),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_threshold()),
        logger_factory=lambda *args: StdoutLogger(),
        cache_logger_on_first_use=True,
    )
    _configured = True


def get_logger() -> Any:
    configure_logging()
    return structlog.get_logger()


def bind_request_context(**values: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**values)


def bind(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)
