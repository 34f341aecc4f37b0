"""A held lock, a missing bucket, a wrong region, an unusable KMS key: one line and the fixing command."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from payments_platform.core.host.config import parse_config
from payments_platform.core.ops.backend_errors import explain_backend_failure, parse_lock_info

STATE = {"bucket": "acme-payments-tfstate", "key_prefix": "pp", "region": "us-east-1", "kms_key_id": "alias/pp-state"}
# What terraform 1.11 prints when the S3 lockfile is held (captured from a real run on the emulator).
LOCK_HELD = """
Error: Error acquiring the state lock

Error message: operation error S3: PutObject, https response error
StatusCode: 412, RequestID: 5eQp5, HostID: 9Gjjt1m, api error PreconditionFailed: At least one of the pre-conditions you
specified did not hold
Lock Info:
  ID:        80dafb28-1b10-80e0-51ff-060b22f30954
  Path:      acme-payments-tfstate/pp/payments-prod/prod.tfstate
  Operation: OperationTypeApply
  Who:       deployer@ci-runner-7
  Version:   1.11.4
  Created:   2026-11-26 12:05:49.940108582 +0000 UTC
  Info:


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time.
"""
NOW = datetime(2026, 11, 26, 15, 35, tzinfo=UTC)


@pytest.fixture
def prod():
    raw = {"defaults": {"plugins": ["storage"]}, "environments": {"prod": {"state": STATE}}}
    return parse_config(raw, Path("environments.toml")).environment("prod")


def test_lock_info_is_parsed_from_terraform_output():
    lock = parse_lock_info(LOCK_HELD)
    assert lock is not None
    assert (lock.lock_id, lock.who, lock.operation_name) == (
        "80dafb28-1b10-80e0-51ff-060b22f30954",
        "deployer@ci-runner-7",
        "apply",
    )
    assert lock.age(NOW) == "3 h 29 min"


def test_held_lock_names_holder_age_and_unlock_command(prod):
    message = explain_backend_failure(LOCK_HELD, prod, now=NOW)
    assert "\n" not in message
    assert (
        "locked by deployer@ci-runner-7 (apply, lock ID 80dafb28-1b10-80e0-51ff-060b22f30954, held for 3 h 29 min)"
        in message
    )
    assert message.endswith("payments-platform state unlock --env prod --lock-id 80dafb28-1b10-80e0-51ff-060b22f30954")


@pytest.mark.parametrize(
    "output, expected",
    [
        (
            'Error: Failed to get existing workspaces: S3 bucket "acme-payments-tfstate" does not exist.',
            "the state bucket acme-payments-tfstate does not exist (region us-east-1): create it with payments-platform state bootstrap --env prod",
        ),
        (
            "operation error S3: ListObjectsV2, https response error StatusCode: 301, RequestID: X, api error PermanentRedirect: "
            "The bucket you are attempting to access must be addressed using the specified endpoint.",
            "is not in us-east-1 (S3 redirected the request): set region in [environments.prod.state]",
        ),
        (
            "operation error S3: PutObject, https response error StatusCode: 400, api error KMS.NotFoundException: Invalid keyId 'alias/pp-state'",
            "cannot use the state's KMS key alias/pp-state",
        ),
        (
            "api error AccessDenied: User: arn:aws:sts::1:assumed-role/dev/x is not authorized to perform: kms:GenerateDataKey",
            "allow kms:Encrypt, kms:Decrypt and kms:GenerateDataKey",
        ),
        (
            "operation error S3: GetObject, https response error StatusCode: 403, api error AccessDenied: Access Denied",
            "access to the state at s3://acme-payments-tfstate/pp/payments-prod/prod.tfstate was denied",
        ),
        ("Error: No valid credential sources found", "no AWS credentials to reach the state"),
    ],
)
def test_backend_failure_is_one_line_with_the_fix(prod, output, expected):
    message = explain_backend_failure(f"\n╷\n│ Error: {output}\n╵\n", prod)
    assert message is not None and expected in message and "\n" not in message


def test_unrelated_failure_is_left_to_the_caller(prod):
    assert explain_backend_failure("Error: Invalid reference in resource aws_sqs_queue.x", prod) is None


def test_lock_is_recognised_in_coloured_boxed_output(prod):
    boxed = "\n".join(f"\x1b[31m│\x1b[0m {line}" for line in LOCK_HELD.splitlines())
    message = explain_backend_failure(boxed, prod, now=NOW)
    assert message is not None and "lock ID 80dafb28-1b10-80e0-51ff-060b22f30954" in message
