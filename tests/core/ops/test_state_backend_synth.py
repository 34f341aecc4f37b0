"""What the backend and the state-bucket stack synthesize to."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from payments_platform.core.environment import StateBackendConfig
from payments_platform.core.host.synth import new_app
from payments_platform.core.ops.state_bucket import build_state_bucket_stack, stack_name
from payments_platform.core.testing import make_environment, synth

STATE = StateBackendConfig(
    bucket="acme-payments-tfstate", key_prefix="payments-platform", region="eu-west-1", kms_key_id="alias/pp-state"
)
EMULATOR = "http://127.0.0.1:4566"


def backend(environment) -> dict:
    return synth(["storage"], environment=environment).config["terraform"]["backend"]


def test_remote_state_is_encrypted_locked_s3_with_nothing_else():
    env = dataclasses.replace(make_environment(["storage"]), state=STATE)
    assert backend(env) == {
        "s3": {
            "bucket": "acme-payments-tfstate",
            "key": "payments-platform/payments-test/test.tfstate",
            "region": "eu-west-1",
            "encrypt": True,
            "kms_key_id": "alias/pp-state",
            "use_lockfile": True,
        }
    }


def test_emulator_backend_talks_to_the_environments_endpoint_only():
    env = dataclasses.replace(make_environment(["storage"]), state=STATE, aws_endpoint=EMULATOR)
    s3 = backend(env)["s3"]
    assert s3["endpoints"] == {"s3": EMULATOR, "sts": EMULATOR, "iam": EMULATOR}
    assert s3["use_path_style"] is True and s3["skip_credentials_validation"] is True
    assert s3["use_lockfile"] is True and s3["encrypt"] is True


def test_environment_without_state_keeps_its_local_state_file():
    assert backend(make_environment(["storage"])) == {"local": {"path": "../../../terraform.payments-test.tfstate"}}


@pytest.fixture(scope="module")
def state_stack(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("state-stack")
    app = new_app(out)
    build_state_bucket_stack(app, dataclasses.replace(make_environment(["storage"]), state=STATE))
    app.synth()
    return json.loads((Path(out) / "stacks" / stack_name(STATE) / "cdk.tf.json").read_text())


def only(config: dict, rtype: str) -> dict:
    (body,) = config["resource"][rtype].values()
    return body


def test_state_stack_keeps_its_own_state_locally_beside_the_output(state_stack):
    assert state_stack["terraform"]["backend"] == {
        "local": {"path": "../../../terraform.state-acme-payments-tfstate.tfstate"}
    }
    assert state_stack["provider"]["aws"][0]["region"] == "eu-west-1"


def test_state_bucket_is_versioned_private_and_kms_encrypted(state_stack):
    assert only(state_stack, "aws_s3_bucket")["bucket"] == "acme-payments-tfstate"
    assert only(state_stack, "aws_s3_bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}
    block = only(state_stack, "aws_s3_bucket_public_access_block")
    assert all(
        block[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    (rule,) = only(state_stack, "aws_s3_bucket_server_side_encryption_configuration")["rule"]
    assert rule["apply_server_side_encryption_by_default"] == {
        "sse_algorithm": "aws:kms",
        "kms_master_key_id": "${aws_kms_key.state_key.arn}",
    }
    assert only(state_stack, "aws_kms_alias")["name"] == "alias/pp-state"
    assert only(state_stack, "aws_kms_key")["enable_key_rotation"] is True


def test_state_bucket_and_key_cannot_be_destroyed_by_terraform(state_stack):
    assert only(state_stack, "aws_s3_bucket")["lifecycle"] == {"prevent_destroy": True}
    assert only(state_stack, "aws_kms_key")["lifecycle"] == {"prevent_destroy": True}


def test_state_bucket_policy_denies_plain_http_and_unencrypted_uploads(state_stack):
    policy = json.loads(only(state_stack, "aws_s3_bucket_policy")["policy"])
    deny = {s["Sid"]: s for s in policy["Statement"] if s["Effect"] == "Deny"}
    assert deny["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["DenyUnencryptedObjectUploads"]["Action"] == "s3:PutObject"
    assert deny["DenyUnencryptedObjectUploads"]["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }


def test_noncurrent_state_versions_expire(state_stack):
    (rule,) = only(state_stack, "aws_s3_bucket_lifecycle_configuration")["rule"]
    assert rule["status"] == "Enabled" and rule["noncurrent_version_expiration"] == [{"noncurrent_days": 90}]
