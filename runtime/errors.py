"""The one error hierarchy of the runtime. The edge (request_handling) maps every ApiError to
``{"error": {"type", "code", "message", "param"?, "request_id"}}`` and every other exception to a
generic 500. Messages are fixed strings: they never echo client input (which may be card data).
"""

from __future__ import annotations


class ApiError(Exception):
    status: int = 500
    type: str = "api_error"
    codes: frozenset[str] = frozenset()

    def __init__(self, code: str, message: str, *, param: str | None = None, retry_after: int | None = None):
        if code not in self.codes:
            raise ValueError(f"{type(self).__name__} does not define error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.retry_after = retry_after


class InvalidRequestError(ApiError):
    status = 400
    type = "invalid_request_error"
    codes = frozenset(
        {
            "invalid_json",
            "invalid_body",
            "invalid_encoding",
            "parameter_missing",
            "parameter_unknown",
            "parameter_invalid_type",
            "parameter_invalid",
            "parameter_out_of_range",
            "parameter_duplicated",
            "currency_unsupported",
            "amount_invalid_for_currency",
            "card_data_in_free_text",
            "idempotency_key_missing",
            "idempotency_key_invalid",
        }
    )


class CardError(ApiError):
    status = 400
    type = "card_error"
    codes = frozenset(
        {"card_number_invalid", "card_brand_unsupported", "card_expired", "card_expiry_invalid", "cvc_invalid"}
    )


class AuthenticationError(ApiError):
    status = 401
    type = "authentication_error"
    codes = frozenset({"client_identity_missing"})


class NotFoundError(ApiError):
    status = 404
    type = "invalid_request_error"
    codes = frozenset({"transaction_not_found"})


class MethodNotAllowedError(ApiError):
    status = 405
    type = "invalid_request_error"
    codes = frozenset({"method_not_allowed"})


class IdempotencyInProgressError(ApiError):
    status = 409
    type = "idempotency_error"
    codes = frozenset({"idempotency_request_in_progress"})


class PayloadTooLargeError(ApiError):
    status = 413
    type = "invalid_request_error"
    codes = frozenset({"body_too_large"})


class UnsupportedMediaTypeError(ApiError):
    status = 415
    type = "invalid_request_error"
    codes = frozenset({"unsupported_media_type"})


class IdempotencyKeyReusedError(ApiError):
    status = 422
    type = "idempotency_error"
    codes = frozenset({"idempotency_key_reused"})


class InternalError(ApiError):
    status = 500
    type = "api_error"
    codes = frozenset({"internal_error"})


class ServiceUnavailableError(ApiError):
    """Retryable: the client repeats the request with the same Idempotency-Key after Retry-After."""

    status = 503
    type = "api_error"
    codes = frozenset({"service_unavailable", "dispatch_incomplete"})


class ConfigurationError(RuntimeError):
    """The function is deployed without a setting it needs. Surfaces to clients as a generic 500;
    the detail goes to the log only."""


ERROR_CLASSES: tuple[type[ApiError], ...] = (
    InvalidRequestError,
    CardError,
    AuthenticationError,
    NotFoundError,
    MethodNotAllowedError,
    IdempotencyInProgressError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    IdempotencyKeyReusedError,
    InternalError,
    ServiceUnavailableError,
)


def error_catalogue() -> dict[str, tuple[int, str]]:
    """Every error code the API can return -> (HTTP status, error type). Documented in docs/RUNTIME.md."""
    return {code: (cls.status, cls.type) for cls in ERROR_CLASSES for code in sorted(cls.codes)}
