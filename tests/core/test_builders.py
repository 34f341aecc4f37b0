"""The secure-default builders (core/builders.py), used from a third-party-style plugin: what a
bucket and a function get without asking, and the values refused before anything is built."""

from __future__ import annotations

import json
from typing import Any

import pytest

from payments_platform.core import (
    BucketLifecycle,
    PluginDeclaration,
    RegistrationError,
    hardened_bucket,
    hookimpl,
    keys,
    platform_function,
)
from payments_platform.core.testing import stub_provider, stub_values, synth

STUBS = stub_provider("stubs", (keys.NETWORK, keys.RUNTIME_PACKAGE))
NETWORK = stub_values()[keys.NETWORK]


class Exports:
    """A plugin with one hardened bucket and one function, built with ``function`` overrides."""

    def __init__(self, **function: Any) -> None:
        self.function = function

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="exports",
            description="builder test plugin",
            requires=(keys.NETWORK, keys.RUNTIME_PACKAGE),
            emulated_services=("lambda", "logs", "s3"),
        )

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        bucket = hardened_bucket(
            ctx.scope,
            "exports_bucket",
            name=ctx.naming.name("exports"),
            kms_key_arn=ctx[keys.KMS_KEY].arn,
            lifecycle=BucketLifecycle("expire-old-exports", noncurrent_version_days=14),
            policy_statements=lambda arn: [{"Sid": "Extra", "Effect": "Deny", "Principal": "*", "Action": "s3:*"}],
            force_destroy=True,
        )
        role = ctx.roles.role("exporter", description="writes exports")
        arguments = {
            "name": ctx.naming.name("exporter", kind="lambda"),
            "description": "exports",
            "role": role,
            "package": ctx[keys.RUNTIME_PACKAGE],
            "handler": "payments_runtime.exports.handler",
            "environment": {"BUCKET": bucket.bucket.bucket},
            "reserved_concurrency": 1,
            "log_retention_days": 30,
            **self.function,
        }
        platform_function(ctx, "exporter", **arguments)


@pytest.fixture(scope="module")
def stack():
    return synth(["exports"], extra_plugins={"stubs": STUBS, "exports": Exports()})


def test_bucket_gets_every_hardening_part_under_its_construct_ids(stack):
    for rtype, suffix in [
        ("aws_s3_bucket_ownership_controls", "ownership"),
        ("aws_s3_bucket_public_access_block", "public_access"),
        ("aws_s3_bucket_versioning", "versioning"),
        ("aws_s3_bucket_server_side_encryption_configuration", "encryption"),
        ("aws_s3_bucket_lifecycle_configuration", "lifecycle"),
        ("aws_s3_bucket_policy", "policy"),
    ]:
        assert stack.by_path(f"exports/exports_bucket_{suffix}")[0] == rtype


def test_bucket_is_private_versioned_and_encrypted_with_the_platform_key(stack):
    assert stack.one("aws_s3_bucket_ownership_controls")["rule"] == {"object_ownership": "BucketOwnerEnforced"}
    block = stack.one("aws_s3_bucket_public_access_block")
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls"))
    assert block["restrict_public_buckets"] is True
    assert stack.one("aws_s3_bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}
    (rule,) = stack.one("aws_s3_bucket_server_side_encryption_configuration")["rule"]
    default = rule["apply_server_side_encryption_by_default"]
    assert (default["sse_algorithm"], rule["bucket_key_enabled"]) == ("aws:kms", True)
    assert default["kms_master_key_id"].startswith("${aws_kms_key.platform_")


def test_bucket_policy_refuses_plain_http_before_the_plugins_statements(stack):
    policy = stack.one("aws_s3_bucket_policy")
    statements = json.loads(policy["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["DenyInsecureTransport", "Extra"]
    assert statements[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (waits_for,) = policy["depends_on"]  # S3 refuses a policy while the public access block is applied
    assert waits_for.startswith("aws_s3_bucket_public_access_block.exports_exports_bucket_public_access")


def test_bucket_lifecycle_expires_old_versions_and_abandoned_uploads_after_versioning(stack):
    lifecycle = stack.one("aws_s3_bucket_lifecycle_configuration")
    (rule,) = lifecycle["rule"]
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 14}]
    assert rule["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 7}]
    assert "transition" not in rule and "expiration" not in rule
    assert lifecycle["depends_on"][0].startswith("aws_s3_bucket_versioning.")


def test_function_runs_traced_in_the_private_subnets_with_its_encrypted_log_group(stack):
    function = stack.one("aws_lambda_function")
    log_group = stack.one("aws_cloudwatch_log_group")
    assert log_group["name"] == "/aws/lambda/exporter-test"
    assert log_group["retention_in_days"] == 30 and log_group["kms_key_id"] == function["kms_key_arn"]
    assert function["tracing_config"] == {"mode": "Active"}
    assert function["vpc_config"] == {
        "subnet_ids": list(NETWORK.private_subnet_ids),
        "security_group_ids": [NETWORK.lambda_security_group_id],
    }
    assert (function["memory_size"], function["reserved_concurrent_executions"]) == (512, 1)
    assert function["logging_config"]["log_group"].startswith("${aws_cloudwatch_log_group.exports_exporter_log_group")
    assert len(function["depends_on"]) == 2  # the log group and the role's policy


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"reserved_concurrency": 0}, "reserved_concurrency 0 must be a positive integer"),
        ({"log_retention_days": 31}, "log_retention_days 31 is not a CloudWatch Logs retention period"),
        ({"memory_mb": 64}, "memory_mb 64 is outside Lambda's"),
        ({"timeout_seconds": 901}, "timeout_seconds 901 is outside Lambda's"),
    ],
)
def test_function_outside_the_limits_is_refused_naming_plugin_and_function(override, message):
    with pytest.raises(Exception) as raised:
        synth(["exports"], extra_plugins={"stubs": STUBS, "exports": Exports(**override)}, cache=False)
    text = str(raised.value)
    assert message in text and "plugin 'exports' function 'exporter-test'" in text


def test_unknown_bucket_part_id_is_refused():
    with pytest.raises(RegistrationError, match="unknown part ids \\['polcy'\\]"):
        hardened_bucket(
            None,
            "b",
            name="b",
            kms_key_arn="k",
            lifecycle=BucketLifecycle("r", noncurrent_version_days=1),
            part_ids={"polcy": "b_policy"},
        )
