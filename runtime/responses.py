"""API Gateway proxy responses: one JSON shape for success and one for errors."""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError
from .redaction import mask_text

BASE_HEADERS = {
    "Content-Type": "application/json",
    "Access-Control-Allow-Origin": "*",
    # PCI DSS 4.2 spirit: responses about card transactions are never cached by intermediaries.
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def json_response(
    status: int,
    body: dict[str, Any] | str,
    request_id: str,
    extra_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``body`` is a dict, or already-serialised JSON (an idempotent replay keeps its bytes)."""
    headers = {**BASE_HEADERS, "X-Request-Id": request_id}
    if extra_headers:
        headers.update(extra_headers)
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), ensure_ascii=True)
    # Defence in depth: whatever a bug puts in a body, a PAN never leaves the function.
    return {"statusCode": status, "headers": headers, "body": mask_text(text), "isBase64Encoded": False}


def error_body(error: ApiError, request_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": error.type, "code": error.code, "message": error.message}
    if error.param is not None:
        payload["param"] = error.param
    payload["request_id"] = request_id
    return {"error": payload}


def error_response(error: ApiError, request_id: str) -> dict[str, Any]:
    extra = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return json_response(error.status, error_body(error, request_id), request_id, extra)
