"""Reading an API Gateway REST (payload v1) proxy event into an ApiRequest.

The event is treated as untrusted shape: any field may be missing, None or of the wrong type.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import AuthenticationError, InvalidRequestError, PayloadTooLargeError

MAX_BODY_BYTES = 16 * 1024
_SAFE_REQUEST_ID = re.compile(r"\A[A-Za-z0-9-]{1,64}\Z")


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def request_id_of(event: Any, context: Any) -> str:
    """API Gateway's request id, else the Lambda request id, else a fresh one; never client text."""
    candidate = _as_dict(_as_dict(event).get("requestContext")).get("requestId")
    if not (isinstance(candidate, str) and _SAFE_REQUEST_ID.match(candidate)):
        candidate = getattr(context, "aws_request_id", None)
    if not (isinstance(candidate, str) and _SAFE_REQUEST_ID.match(candidate)):
        candidate = str(uuid.uuid4())
    return candidate


def client_identity_of(event: Any) -> str | None:
    """The caller identity API Gateway vouches for: the API key id, else the IAM principal.
    Client-sent headers are never consulted (tenant isolation)."""
    identity = _as_dict(_as_dict(_as_dict(event).get("requestContext")).get("identity"))
    api_key_id = identity.get("apiKeyId")
    if isinstance(api_key_id, str) and api_key_id.strip():
        return "apikey:" + api_key_id.strip()
    for field_name in ("userArn", "caller"):
        principal = identity.get(field_name)
        if isinstance(principal, str) and principal.strip():
            return "iam:" + principal.strip()
    return None


@dataclass
class ApiRequest:
    request_id: str
    client_id: str
    method: str | None
    headers: dict[str, str]
    multi_value_headers: dict[str, list[str]]
    query: dict[str, str]
    raw_body: str | None
    is_base64: bool
    # Time the invocation has left (Lambda context); bounds how long this request can hold a lease.
    remaining_time_ms: int | None = None
    _body: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_event(cls, event: Any, request_id: str) -> ApiRequest:
        event = _as_dict(event)
        client_id = client_identity_of(event)
        if client_id is None:
            raise AuthenticationError(
                "client_identity_missing", "The request carries no authenticated client identity."
            )
        headers = {
            name.lower(): value
            for name, value in _as_dict(event.get("headers")).items()
            if isinstance(name, str) and isinstance(value, str)
        }
        multi = {
            name.lower(): [v for v in values if isinstance(v, str)]
            for name, values in _as_dict(event.get("multiValueHeaders")).items()
            if isinstance(name, str) and isinstance(values, list)
        }
        query = {k: v for k, v in _as_dict(event.get("queryStringParameters")).items() if isinstance(k, str)}
        method = event.get("httpMethod")
        body = event.get("body")
        return cls(
            request_id=request_id,
            client_id=client_id,
            method=method if isinstance(method, str) else None,
            headers=headers,
            multi_value_headers=multi,
            query=query,
            raw_body=body,
            is_base64=event.get("isBase64Encoded") is True,
        )

    def header(self, name: str) -> str | None:
        """A single-valued header; InvalidRequestError when the client sent it more than once."""
        name = name.lower()
        if len(self.multi_value_headers.get(name, ())) > 1:
            raise InvalidRequestError(
                "parameter_duplicated", "The header may be sent only once.", param=name_of_header(name)
            )
        return self.headers.get(name)

    def body(self) -> bytes:
        """The request body as bytes, bounded by MAX_BODY_BYTES."""
        if self._body is not None:
            return self._body
        raw = self.raw_body
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raise InvalidRequestError("invalid_body", "The request body must be a JSON object.")
        if len(raw) > (MAX_BODY_BYTES * 4 // 3 + 4 if self.is_base64 else MAX_BODY_BYTES):
            raise PayloadTooLargeError("body_too_large", f"The request body exceeds {MAX_BODY_BYTES} bytes.")
        if self.is_base64:
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequestError("invalid_encoding", "The request body is not valid base64.") from None
        else:
            try:
                data = raw.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidRequestError("invalid_encoding", "The request body is not valid UTF-8.") from None
        if len(data) > MAX_BODY_BYTES:
            raise PayloadTooLargeError("body_too_large", f"The request body exceeds {MAX_BODY_BYTES} bytes.")
        self._body = data
        return data


def name_of_header(lower_name: str) -> str:
    return "-".join(part.capitalize() for part in lower_name.split("-"))
