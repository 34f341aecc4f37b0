"""Emulator patch: S3 bucket policies whose conditions are evaluated as S3 does.

moto 5.2.5 applies a bucket-policy statement whenever its action and resource match, and
evaluates a ``Condition`` only for ``StringEquals``: every other operator counts as holding.
So the state bucket's ``Deny`` statements (``Bool aws:SecureTransport false``,
``StringNotEquals s3:x-amz-server-side-encryption aws:kms``) refuse every object request on
the emulator, though S3 refuses only plain-HTTP and unencrypted uploads.

``apply()`` makes moto's object requests evaluate the policy with the request's condition
keys: the server-side-encryption headers, ``s3:if-none-match`` (the header), ``aws:PrincipalArn``
(the signing key's IAM user, or for an assumed role's session the role -- as AWS sets it), and
``aws:SecureTransport`` = true — the emulator listens on loopback HTTP in place of AWS's TLS
endpoints. Operators: Bool, String(Not)Equals, String(Not)Like, Arn(Not)Equals, Arn(Not)Like,
Numeric*, Null, each with IfExists (``s3:TlsVersion`` is 1.3); an operator it does not know still
counts as holding (moto's own behaviour). Principals: as moto, only ``"*"`` statements are
evaluated. Bucket-level calls (PutBucketPolicy, PutLifecycleConfiguration, ...) are, as in moto,
not checked against the bucket policy at all.

Upstream: getmoto/moto — moto/iam/policy_conditions.py (CONDITION_OPERATIONS holds only
StringEquals) and FakeBucket.get_permission (no request context is passed, so neither the
request's headers nor its principal reach the policy).
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
from collections.abc import Mapping
from typing import Any

from payments_platform.core.local.emulator.patching import Patches

_REQUEST_KEYS: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("s3_policy_keys", default=None)
_NEGATED = {"StringNotEquals", "StringNotLike"}
# ARNs compare as strings (case-sensitively, with * and ? wildcards for the Like forms).
_ARN_OPERATORS = {
    "ArnEquals": "StringEquals",
    "ArnNotEquals": "StringNotEquals",
    "ArnLike": "StringLike",
    "ArnNotLike": "StringNotLike",
}
_HEADER_KEYS = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "if-none-match",
)
_NUMERIC = {
    "NumericEquals": float.__eq__,
    "NumericNotEquals": float.__ne__,
    "NumericLessThan": float.__lt__,
    "NumericLessThanEquals": float.__le__,
    "NumericGreaterThan": float.__gt__,
    "NumericGreaterThanEquals": float.__ge__,
}


PATCHES = Patches("bucket-policy")


def apply() -> None:
    """Patch moto's S3 in this process (idempotent). Call before the first request."""
    PATCHES.install()


@PATCHES.replaces("moto.s3.responses:S3Response", "_key_response")
def request_condition_context(original_key_response: Any) -> Any:
    """Object requests carry their condition keys to the bucket policy's evaluation.

    Upstream: moto's FakeBucket.get_permission is given no request context (see the module's note)."""

    def _key_response(self: Any, request: Any, full_url: str) -> Any:
        token = _REQUEST_KEYS.set(request_condition_keys(request.headers))
        try:
            return original_key_response(self, request, full_url)
        finally:
            _REQUEST_KEYS.reset(token)

    return _key_response


@PATCHES.replaces("moto.s3.models:FakeBucket", "get_permission")
def condition_aware_bucket_policy(_moto_get_permission: Any) -> Any:
    """A bucket policy's conditions evaluated as S3 does, with the request's keys.

    Upstream: moto/iam/policy_conditions.py evaluates StringEquals only (see the module's note)."""

    def get_permission(self: Any, action: str, resource: str) -> Any:
        from moto.iam.access_control import PermissionResult

        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = self.policy.decode() if isinstance(self.policy, bytes) else self.policy
        verdict = evaluate(json.loads(policy), action, resource, _REQUEST_KEYS.get() or {})
        return {"deny": PermissionResult.DENIED, "allow": PermissionResult.PERMITTED}.get(
            verdict, PermissionResult.NEUTRAL
        )

    return get_permission


def request_condition_keys(headers: Mapping[str, str]) -> dict[str, str]:
    # The emulator's loopback HTTP stands in for AWS's TLS endpoints (TLS 1.3 today).
    keys = {"aws:securetransport": "true", "s3:tlsversion": "1.3"}
    lowered = {k.lower(): v for k, v in headers.items()}
    for header in _HEADER_KEYS:
        if header in lowered:
            keys[f"s3:{header}"] = lowered[header]
    principal = principal_arn(lowered)
    if principal is not None:
        keys["aws:principalarn"] = principal
    return keys


def principal_arn(lowered_headers: Mapping[str, str]) -> str | None:
    """``aws:PrincipalArn`` of a SigV4-signed request: the IAM user owning the access key, or the
    role an STS session was issued for; None for a key the emulator does not know."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    authorization = lowered_headers.get("authorization", "")
    if "Credential=" not in authorization:
        return None
    access_key_id = authorization.split("Credential=", 1)[1].split("/", 1)[0]
    if "x-amz-security-token" in lowered_headers:
        for session in sts_backends[DEFAULT_ACCOUNT_ID]["aws"].assumed_roles:
            if session.access_key_id == access_key_id:
                return str(session.role_arn)
        return None
    key = iam_backends[DEFAULT_ACCOUNT_ID]["aws"].access_keys.get(access_key_id)
    if key is None:
        return None
    user = iam_backends[DEFAULT_ACCOUNT_ID]["aws"].get_user(key.user_name)
    return str(user.arn)


def evaluate(policy: Mapping[str, Any], action: str, resource: str, keys: Mapping[str, str]) -> str:
    """'deny', 'allow' or 'neutral' for one request, by IAM's rule: any matching Deny wins."""
    statements = policy.get("Statement") or []
    verdict = "neutral"
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Principal") not in ("*", {"AWS": "*"}):
            continue
        if "Action" in statement and not _matches(statement["Action"], action):
            continue
        if "NotAction" in statement and _matches(statement["NotAction"], action):
            continue
        if "Resource" in statement and not _matches(statement["Resource"], resource):
            continue
        if not all(
            condition_holds(operator, key, expected, keys)
            for operator, pairs in (statement.get("Condition") or {}).items()
            for key, expected in pairs.items()
        ):
            continue
        if statement.get("Effect") == "Deny":
            return "deny"
        verdict = "allow"
    return verdict


def condition_holds(operator: str, key: str, expected: Any, keys: Mapping[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    base = _ARN_OPERATORS.get(base, base)
    values = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
    actual = keys.get(key.lower())
    if base == "Null":
        return (actual is None) == (values[0].lower() == "true")
    if actual is None:
        # A key absent from the request: IfExists and negated operators hold, the rest do not.
        return if_exists or base in _NEGATED
    if base == "Bool":
        return actual.lower() in {v.lower() for v in values}
    if base == "StringEquals":
        return actual in values
    if base == "StringNotEquals":
        return actual not in values
    if base == "StringLike":
        return any(fnmatch.fnmatchcase(actual, v) for v in values)
    if base == "StringNotLike":
        return not any(fnmatch.fnmatchcase(actual, v) for v in values)
    if base in _NUMERIC:
        try:
            return any(_NUMERIC[base](float(actual), float(v)) for v in values)
        except ValueError:
            return False
    return True


def _matches(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in (patterns if isinstance(patterns, list) else [patterns]))
