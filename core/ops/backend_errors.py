"""One line, with the fixing command, for the ways a remote state backend fails.

Terraform reports a missing bucket, a bucket in another region, an unusable KMS key or a held
lock as a wall of SDK text; the CLI shows what happened and what to run instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.ops.terraform import Explain

# Terraform's colours and the box it draws around a diagnostic when not run with -no-color.
_DECORATION = re.compile(r"\x1b\[[0-9;]*m|^[ \t]*[│╷╵][ \t]?", re.MULTILINE)
_LOCK_FIELD = re.compile(r"^\s*(ID|Path|Operation|Who|Version|Created|Info):\s*(.*?)\s*$", re.MULTILINE)
_BUCKET_MISSING = re.compile(
    r"NoSuchBucket|S3 bucket \"?[^\"\s]*\"? does not exist|bucket does not exist", re.IGNORECASE
)
_WRONG_REGION = re.compile(
    r"PermanentRedirect|StatusCode: 301|AuthorizationHeaderMalformed|actual location", re.IGNORECASE
)
_KMS_PROBLEM = re.compile(
    r"KMS\.\w+Exception|kms:(?:GenerateDataKey|Decrypt|Encrypt)|KMS key|KMSInvalidStateException", re.IGNORECASE
)
_ACCESS_DENIED = re.compile(r"AccessDenied|StatusCode: 403", re.IGNORECASE)
_NO_CREDENTIALS = re.compile(r"No valid credential sources found|failed to refresh cached credentials", re.IGNORECASE)


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    who: str
    operation: str
    created: str
    path: str

    @property
    def operation_name(self) -> str:
        return self.operation.removeprefix("OperationType").lower() or "unknown"

    def age(self, now: datetime | None = None) -> str | None:
        # Terraform writes e.g. "2026-11-26 15:25:49.940108582 +0000 UTC".
        match = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", self.created)
        if not match:
            return None
        created = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        minutes = max(0, int(((now or datetime.now(UTC)) - created).total_seconds() // 60))
        return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def plain(output: str) -> str:
    return _DECORATION.sub("", output)


def parse_lock_info(output: str) -> LockInfo | None:
    output = plain(output)
    if "Error acquiring the state lock" not in output:
        return None
    fields = dict(_LOCK_FIELD.findall(output.split("Lock Info:", 1)[-1]))
    if not fields.get("ID"):
        return None
    return LockInfo(
        lock_id=fields["ID"],
        who=fields.get("Who") or "unknown",
        operation=fields.get("Operation") or "",
        created=fields.get("Created") or "",
        path=fields.get("Path") or "",
    )


def explain_backend_failure(output: str, env: EnvironmentConfig, *, now: datetime | None = None) -> str | None:
    """The failure in one line naming the fixing command, or None for failures of another kind."""
    output = plain(output)
    lock = parse_lock_info(output)
    if lock is not None:
        age = lock.age(now)
        held = f" for {age}" if age else ""
        return (
            f"the state of {env.stack_name} is locked by {lock.who} ({lock.operation_name}, lock ID {lock.lock_id}, "
            f"held{held}); if that run is still going, wait for it; if it was interrupted, make sure no terraform "
            f"process of {lock.who} is left, then release it: payments-platform state unlock --env {env.name} "
            f"--lock-id {lock.lock_id}"
        )
    state = env.state
    if state is None:
        return None
    where = f"s3://{state.bucket}/{env.state_key}"
    if _NO_CREDENTIALS.search(output):
        return f"no AWS credentials to reach the state at {where}: configure a profile or assume the deploy role first"
    if _BUCKET_MISSING.search(output):
        return (
            f"the state bucket {state.bucket} does not exist (region {state.region}): create it with "
            f"payments-platform state bootstrap --env {env.name}"
        )
    if _WRONG_REGION.search(output):
        return (
            f"the state bucket {state.bucket} is not in {state.region} (S3 redirected the request): set region in "
            f"[environments.{env.name}.state] to the bucket's region"
        )
    if _KMS_PROBLEM.search(output):
        return (
            f"cannot use the state's KMS key {state.kms_key_id} (missing, disabled or not granted to you): allow "
            f"kms:Encrypt, kms:Decrypt and kms:GenerateDataKey on it for your role, or fix kms_key_id in "
            f"[environments.{env.name}.state]; payments-platform state bootstrap --env {env.name} creates it"
        )
    if _ACCESS_DENIED.search(output):
        return (
            f"access to the state at {where} was denied: your role needs s3:ListBucket on {state.bucket} and "
            f"s3:GetObject/PutObject/DeleteObject on {env.state_key} and its .tflock (README: the deploy role)"
        )
    return None


def explainer(env: EnvironmentConfig) -> Explain:
    return lambda output: explain_backend_failure(output, env)
