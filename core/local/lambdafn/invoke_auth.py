"""Who may call the local Invoke API (invoke_api.py): a SigV4 request signed with a key the local
deployment hands out, as Lambda's endpoint demands -- never a browser.

Unauthenticated, the Invoke API let anything that reaches loopback run any function with any event
(an API event with another tenant's client id included), a web page too: a browser may POST to
127.0.0.1. Now a request must carry an ``Authorization`` header whose signature botocore's own
``SigV4Auth``, run over the request as received, computes again with the secret of the key it names
(the emulator's administrator, which Terraform, ``local`` tooling and the emulator's rotation use,
or a function's identity, core/local/emulator/function_identities.py). A request with an ``Origin``
or ``Sec-Fetch-*`` header, or a CORS preflight, is refused before anything else: Lambda's API
serves no browser, and a page cannot sign without first asking (a preflight) to send
``Authorization``.

The answers are Lambda's: 403 with ``x-amzn-ErrorType`` MissingAuthenticationTokenException,
UnrecognizedClientException or InvalidSignatureException, as AWS's front door answers them.
Authorization beyond the signature (``lambda:InvokeFunction`` in the caller's policies) is not
evaluated: every key accepted here already may do everything on the emulator, or is a function's.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from payments_platform.core.local.asgi import Scope

SERVICE = "lambda"
# AWS refuses a request whose X-Amz-Date is more than 15 minutes from its clock: a captured
# request cannot be replayed later.
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
BROWSER_HEADERS = ("origin", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest")
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class InvokeRefused(Exception):
    """A request the Invoke API will not run: its status, Lambda's error type, and why."""

    status: int
    error_type: str
    message: str


def refuse_browsers(scope: Scope) -> None:
    """InvokeRefused for a CORS preflight or any request a browser marks as its own."""
    names = {name.decode("latin-1").lower() for name, _ in scope["headers"]}
    if scope["method"] == "OPTIONS" or names.intersection(BROWSER_HEADERS):
        raise InvokeRefused(
            403,
            "AccessDeniedException",
            "The local Invoke API does not serve browsers (a request with an Origin or Sec-Fetch header, "
            "or a CORS preflight)",
        )


def authenticate(
    scope: Scope,
    body: bytes,
    *,
    keys: Mapping[str, str],
    region: str,
    now: datetime.datetime | None = None,
) -> str:
    """The access key id that signed the request; InvokeRefused unless it is one of ``keys``
    (access key id → secret) and botocore's SigV4 computes the same signature for the request."""
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in scope["headers"]:
        headers.setdefault(raw_name.decode("latin-1").lower(), []).append(raw_value.decode("latin-1"))
    authorization = (headers.get("authorization") or [""])[-1]
    if not authorization:
        raise InvokeRefused(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    parsed = _AUTHORIZATION.match(authorization)
    if parsed is None:
        raise InvokeRefused(403, "IncompleteSignatureException", "Authorization header is not a SigV4 signature")
    secret = keys.get(parsed["key"])
    if secret is None:
        raise InvokeRefused(
            403, "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if parsed["service"] != SERVICE or parsed["region"] != region:
        raise InvokeRefused(
            403,
            "InvalidSignatureException",
            f"Credential should be scoped to region '{region}' and service '{SERVICE}'.",
        )
    signed = parsed["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed or any(name not in headers for name in signed):
        raise InvokeRefused(403, "IncompleteSignatureException", "The request must sign host and x-amz-date.")
    timestamp = headers["x-amz-date"][-1]
    try:
        signed_at = datetime.datetime.strptime(timestamp, SIGV4_TIMESTAMP).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise InvokeRefused(403, "IncompleteSignatureException", "X-Amz-Date is not a SigV4 timestamp.") from None
    now = now or datetime.datetime.now(datetime.UTC)
    if parsed["date"] != timestamp[:8] or abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise InvokeRefused(
            403,
            "InvalidSignatureException",
            f"Signature expired: {timestamp} is not within 15 minutes of the server time.",
        )
    declared_hash = headers.get("x-amz-content-sha256")
    if declared_hash and declared_hash[-1] != hashlib.sha256(body).hexdigest():
        # botocore would sign the declared hash (UNSIGNED-PAYLOAD included) instead of the body.
        raise InvokeRefused(403, "InvalidSignatureException", "X-Amz-Content-SHA256 is not the body's hash.")

    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    request = AWSRequest(
        method=scope["method"],
        url=f"http://{headers['host'][-1]}{raw_path}{'?' + query if query else ''}",
        data=body,
    )
    for name in signed:  # exactly the headers the signer says it signed, as received
        for value in headers[name]:
            request.headers[name] = value
    signer = SigV4Auth(Credentials(parsed["key"], secret), SERVICE, region)
    request.context["timestamp"] = timestamp
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if signer.signed_headers(signer.headers_to_sign(request)) != parsed["signed"]:
        raise InvokeRefused(403, "InvalidSignatureException", _MISMATCH)
    if not hmac.compare_digest(expected, parsed["signature"]):
        raise InvokeRefused(403, "InvalidSignatureException", _MISMATCH)
    return parsed["key"]
