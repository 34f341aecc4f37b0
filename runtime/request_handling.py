"""The edge every handler runs through: request context for the logs, error mapping to the one
error shape, and exactly one audit event per request (PCI DSS 10.2) with outcome and latency."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .api_event import ApiRequest, client_identity_of, request_id_of
from .deadline import invocation_deadline
from .errors import ApiError, ConfigurationError, InternalError, MethodNotAllowedError
from .logging_config import bind_request_context, get_logger
from .metrics import report_unparseable_record
from .record_codec import RecordUnparseable
from .responses import error_response, json_response
from .settings import function_name


@dataclass
class EndpointResult:
    status: int
    body: dict[str, Any] | None = None
    body_text: str | None = None  # pre-serialised body (idempotent replays keep the original bytes)
    headers: dict[str, str] = field(default_factory=dict)
    outcome: str = "ok"
    audit: dict[str, Any] = field(default_factory=dict)


def _outcome_of(error: ApiError) -> str:
    if error.status == 404:
        return "not_found"
    if error.status in (409, 422):
        return "conflict"
    if error.status == 503:
        return "unavailable"
    if error.status >= 500:
        return "error"
    return "rejected"


def serve(
    event: Any,
    context: Any,
    *,
    operation: str,
    method: str,
    endpoint: Callable[[ApiRequest], EndpointResult],
) -> dict[str, Any]:
    started = time.perf_counter()
    request_id = request_id_of(event, context)
    bind_request_context(
        request_id=request_id,
        function=getattr(context, "function_name", None) or function_name(),
        operation=operation,
        client_id=client_identity_of(event),
    )
    log = get_logger()
    audit: dict[str, Any] = {}
    try:
        request = ApiRequest.from_event(event, request_id)
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        request.remaining_time_ms = remaining() if callable(remaining) else None
        if request.method is not None and request.method.upper() != method:
            raise MethodNotAllowedError("method_not_allowed", f"Only {method} is allowed on this resource.")
        with invocation_deadline(request.remaining_time_ms):
            result = endpoint(request)
        body = result.body_text if result.body_text is not None else (result.body or {})
        response = json_response(result.status, body, request_id, result.headers)
        outcome, audit = result.outcome, result.audit
    except ApiError as error:
        response = error_response(error, request_id)
        outcome = _outcome_of(error)
        audit = {"error_code": error.code, "error_param": error.param}
    except RecordUnparseable as error:
        report_unparseable_record(error, reader=operation)
        response = error_response(InternalError("internal_error", "An internal error occurred."), request_id)
        outcome = "error"
        audit = {"error_code": "internal_error"}
    except ConfigurationError as error:
        log.error("configuration_error", detail=str(error))
        response = error_response(InternalError("internal_error", "An internal error occurred."), request_id)
        outcome = "error"
        audit = {"error_code": "internal_error"}
    except Exception:
        # Redacted like every event; the client sees only the generic shape and the request id.
        log.exception("unhandled_error")
        response = error_response(InternalError("internal_error", "An internal error occurred."), request_id)
        outcome = "error"
        audit = {"error_code": "internal_error"}
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    log.info(
        f"audit.{operation}",
        audit=True,
        outcome=outcome,
        http_status=response["statusCode"],
        latency_ms=latency_ms,
        **{k: v for k, v in audit.items() if v is not None},
    )
    return response


__all__ = ["EndpointResult", "serve"]
