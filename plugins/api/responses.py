"""What API Gateway answers by itself: CORS preflights and its own errors.

Gateway errors (bad API key, throttling, a body the model rejects, ...) never reach a
handler, so they are shaped here exactly like the runtime's errors
(``runtime/responses.py::error_body``)::

    {"error": {"type": ..., "code": ..., "message": ..., "request_id": ...}}

``type`` is one of the runtime's error types (docs/openapi.yaml ``Error``), and every
response carries the CORS origin header and the runtime's no-store / nosniff headers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

JSON = "application/json"

# CORS: browsers may call from any origin (the API authenticates with a key or SigV4, not
# cookies, so a wildcard origin exposes nothing a script couldn't send anyway).
CORS_ALLOW_ORIGIN = "*"
CORS_ALLOW_HEADERS = (
    "Content-Type",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "Idempotency-Key",
)
CORS_MAX_AGE_SECONDS = 600


def quoted(value: str) -> str:
    """A static value in an API Gateway header mapping is written in single quotes."""
    return f"'{value}'"


def preflight_headers(methods: tuple[str, ...]) -> dict[str, str]:
    """CORS headers an OPTIONS preflight answers with (header name → static value)."""
    return {
        "Access-Control-Allow-Origin": CORS_ALLOW_ORIGIN,
        "Access-Control-Allow-Methods": ",".join((*methods, "OPTIONS")),
        "Access-Control-Allow-Headers": ",".join(CORS_ALLOW_HEADERS),
        "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
    }


# The runtime's response headers that do not depend on the request (runtime/responses.py BASE_HEADERS).
GATEWAY_RESPONSE_HEADERS = {
    "Access-Control-Allow-Origin": CORS_ALLOW_ORIGIN,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class GatewayError:
    """One gateway response type and the runtime-style error it becomes."""

    response_type: str
    error_type: str
    code: str
    status_code: str | None = None  # None keeps API Gateway's status for the type
    headers: tuple[tuple[str, str], ...] = ()  # static headers beyond GATEWAY_RESPONSE_HEADERS

    def response_headers(self) -> dict[str, str]:
        return {**GATEWAY_RESPONSE_HEADERS, **dict(self.headers)}

    def template(self) -> str:
        # $context.error.messageString is already a quoted JSON string. The validator's
        # detail ($context.error.validationErrorString) is deliberately NOT returned: it
        # echoes the offending input, which may be a card number or CVC (PCI DSS 3.3/3.4).
        return (
            '{"error":{"type":'
            + json.dumps(self.error_type)
            + ',"code":'
            + json.dumps(self.code)
            + ',"message":$context.error.messageString,"request_id":"$context.requestId"}}'
        )


# Capacity answers are retryable and say when (RFC 9110 Retry-After, in seconds): API Gateway's own
# throttle refills its token bucket every second, and a function's concurrency frees up as fast.
RETRY_AFTER_SECONDS = 1
RETRY_AFTER = (("Retry-After", str(RETRY_AFTER_SECONDS)),)

GATEWAY_ERRORS: tuple[GatewayError, ...] = (
    GatewayError("DEFAULT_4XX", "invalid_request_error", "invalid_request"),
    GatewayError("DEFAULT_5XX", "api_error", "internal_error"),
    GatewayError("BAD_REQUEST_BODY", "invalid_request_error", "invalid_body"),
    GatewayError("BAD_REQUEST_PARAMETERS", "invalid_request_error", "parameter_missing"),
    GatewayError("REQUEST_TOO_LARGE", "invalid_request_error", "body_too_large"),
    GatewayError("UNSUPPORTED_MEDIA_TYPE", "invalid_request_error", "unsupported_media_type"),
    GatewayError("RESOURCE_NOT_FOUND", "invalid_request_error", "resource_not_found"),
    # API Gateway answers an unknown path with MISSING_AUTHENTICATION_TOKEN too.
    GatewayError("MISSING_AUTHENTICATION_TOKEN", "authentication_error", "missing_authentication_token"),
    GatewayError("INVALID_API_KEY", "authentication_error", "invalid_api_key"),
    GatewayError("ACCESS_DENIED", "authentication_error", "access_denied"),
    GatewayError("UNAUTHORIZED", "authentication_error", "unauthorized"),
    GatewayError("INVALID_SIGNATURE", "authentication_error", "invalid_signature"),
    GatewayError("EXPIRED_TOKEN", "authentication_error", "expired_token"),
    # The stage's, the method's or the client's usage-plan rate was exceeded: 429, the client's own rate.
    GatewayError("THROTTLED", "api_error", "rate_limited", headers=RETRY_AFTER),
    # Where a WAF web ACL is associated with the stage (the waf extension): a request it blocked.
    GatewayError("WAF_FILTERED", "invalid_request_error", "request_blocked"),
    GatewayError("QUOTA_EXCEEDED", "api_error", "quota_exceeded"),
    GatewayError("API_CONFIGURATION_ERROR", "api_error", "internal_error"),
    # Lambda refused the invocation -- above all a throttle at the function's reserved concurrency
    # (Lambda's 429 TooManyRequestsException). Behind AWS_PROXY, API Gateway answers that itself with
    # this response type at status 500, whatever the function would have said. The function never
    # ran, so nothing happened: 503 + Retry-After (the server's capacity, RFC 9110 15.6.4), not 429
    # (which says the *client* sent too much) and not a bare 500 (which a client cannot tell from a bug).
    GatewayError("INTEGRATION_FAILURE", "api_error", "service_unavailable", status_code="503", headers=RETRY_AFTER),
    GatewayError("INTEGRATION_TIMEOUT", "api_error", "gateway_timeout"),
)
