"""The secure-default builders (core/builders.py), used from a third-party-style plugin: what a
bucket and a function get without asking, how a function is published and granted to, and the
values refused before anything is built."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from payments_platform.core import (
    BucketLifecycle,
    ContextKey,
    PluginDeclaration,
    PluginDeprecationWarning,
    RegistrationError,
    hardened_bucket,
    hookimpl,
    keys,
    platform_function,
)
from payments_platform.core.builders import bucket_in_scope
from payments_platform.core.testing import stub_provider, stub_values, synth

STUBS = stub_provider("stubs", (keys.NETWORK, keys.RUNTIME_PACKAGE, keys.TRANSACTIONS_TABLE))
NETWORK = stub_values()[keys.NETWORK]
TABLE = stub_values()[keys.TRANSACTIONS_TABLE]
EXPORTER: ContextKey[keys.Function] = ContextKey("exports.exporter", keys.Function, "the exporter function")


class Exports:
    """A plugin with one hardened bucket and one function, built with ``function`` overrides;
    the function is published, reads the stubbed table and may invoke ``notifier`` (a second one)."""

    def __init__(self, **function: Any) -> None:
        self.function = function

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="exports",
            description="builder test plugin",
            requires=(keys.NETWORK, keys.RUNTIME_PACKAGE, keys.TRANSACTIONS_TABLE),
            provides=(EXPORTER,),
            emulated_services=("lambda", "logs", "s3"),
        )

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        bucket = hardened_bucket(
            ctx,
            "exports_bucket",
            name=ctx.naming.name("exports"),
            lifecycle=BucketLifecycle("expire-old-exports", noncurrent_version_days=14),
            policy_statements=lambda arn: [{"Sid": "Extra", "Effect": "Deny", "Principal": "*", "Action": "s3:*"}],
            force_destroy=True,
        )
        common = {"package": ctx[keys.RUNTIME_PACKAGE], "reserved_concurrency": 1, "log_retention_days": 30}
        arguments = {
            "key": "exporter",
            "description": "exports",
            "role_description": "writes exports",
            "handler": "payments_runtime.exports.handler",
            "environment": {"BUCKET": bucket.bucket.bucket},
            **common,
            **self.function,
        }
        exporter = platform_function(ctx, "exporter", **arguments)
        ctx[EXPORTER] = exporter
        notifier = platform_function(
            ctx,
            "notifier",
            key="notifier",
            description="notifies",
            role_description="sends notifications",
            handler="payments_runtime.notify.handler",
            environment={},
            **common,
        )
        ctx.stash["functions"] = (exporter, notifier)

    @hookimpl
    def payments_wiring(self, ctx: Any) -> None:
        exporter, notifier = ctx.stash.pop("functions")
        ctx[keys.TRANSACTIONS_TABLE].grant_read(ctx.roles, exporter, sid="TransactionsRead")
        notifier.grant_invoke(ctx.roles, exporter, sid="InvokeNotifier")


def logical_id(stack: Any, path_suffix: str) -> str:
    for items in stack.config["resource"].values():
        for logical, body in items.items():
            if body["//"]["metadata"]["path"].endswith(path_suffix):
                return str(logical)
    raise AssertionError(path_suffix)


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
    function = stack.one("aws_lambda_function", function_name="exporter-test")
    log_group = stack.one("aws_cloudwatch_log_group", name="/aws/lambda/exporter-test")
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


def test_function_creates_its_role_with_the_basics_every_platform_function_needs(stack):
    role = stack.one("aws_iam_role", name="exporter-role-test")
    assert json.loads(role["assume_role_policy"])["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    function = stack.one("aws_lambda_function", function_name="exporter-test")
    assert function["role"].startswith("${aws_iam_role.exports_role_exporter")
    statements = {s["Sid"]: s for s in stack.iam_statements("exporter")}
    assert {"WriteOwnLogs", "XRayTracing", "VpcNetworkInterfaces"} <= set(statements)
    log_group_arn = "${aws_cloudwatch_log_group." + logical_id(stack, "exports/exporter_log_group") + ".arn}"
    assert statements["WriteOwnLogs"]["Resource"] == [log_group_arn, f"{log_group_arn}:*"]


def test_function_is_registered_for_monitoring_and_the_audit_trail_under_its_key(stack):
    monitoring = stack.built.build.monitoring
    (function,) = [f for f in monitoring.functions.all() if f.key == "exporter"]
    assert (function.function_name, function.log_group_name, function.plugin) == (
        "exporter-test",
        "/aws/lambda/exporter-test",
        "exports",
    )
    (log_group,) = [g for g in monitoring.log_groups.all() if g.key == "exporter"]
    (published, _) = stack.built.build.values[EXPORTER.name]
    assert (log_group.log_group_name, log_group.log_group_arn) == (published.log_group_name, published.log_group_arn)
    assert published.log_group.node.path.endswith("exports/exporter_log_group")


def test_function_is_published_as_built_and_is_the_grantee_of_a_value_grant(stack):
    (published, plugin) = stack.built.build.values[EXPORTER.name]
    assert plugin == "exports" and published.key == "exporter" and published.physical_name == "exporter-test"
    assert published.resource.node.path.endswith("exports/exporter")
    statements = {s["Sid"]: s for s in stack.iam_statements("exporter")}
    assert statements["TransactionsRead"]["Resource"] == TABLE.arn
    assert statements["TransactionsReadKms"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}
    }


def test_function_grants_another_function_its_invocation(stack):
    arn = "${aws_lambda_function." + logical_id(stack, "exports/notifier") + ".arn}"
    statements = {s["Sid"]: s for s in stack.iam_statements("exporter")}
    assert statements["InvokeNotifier"] == {
        "Sid": "InvokeNotifier",
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        "Resource": [arn, f"{arn}:*"],
    }
    assert "InvokeNotifier" not in {s["Sid"] for s in stack.iam_statements("notifier")}


class OldShape(Exports):
    """The calling shape before the construct: a scope for the bucket, name= and role= for the
    function, the basics and the monitoring done by the caller."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="exports",
            description="builder test plugin, old shape",
            requires=(keys.NETWORK, keys.RUNTIME_PACKAGE),
            emulated_services=("lambda", "logs", "s3"),
        )

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        hardened_bucket(
            ctx.scope,
            "exports_bucket",
            name=ctx.naming.name("exports"),
            kms_key_arn=ctx[keys.KMS_KEY].arn,
            lifecycle=BucketLifecycle("expire-old-exports", noncurrent_version_days=14),
        )
        role = ctx.roles.role("exporter", description="writes exports")
        ctx.stash["built"] = platform_function(
            ctx,
            "exporter",
            name=ctx.naming.name("exporter", kind="lambda"),
            description="exports",
            role=role,
            package=ctx[keys.RUNTIME_PACKAGE],
            handler="payments_runtime.exports.handler",
            environment={},
            reserved_concurrency=1,
            log_retention_days=30,
        )

    @hookimpl
    def payments_wiring(self, ctx: Any) -> None:
        from payments_platform.core import grant_function_basics

        built = ctx.stash.pop("built")
        grant_function_basics(ctx.roles, built.role, built.log_group_arn)


def test_old_calling_shape_still_builds_the_same_resources_with_a_deprecation_warning(stack):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = synth(["exports"], extra_plugins={"stubs": STUBS, "exports": OldShape()}, cache=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, PluginDeprecationWarning)]
    assert any("hardened_bucket('exports_bucket'): pass the plugin's ctx" in m for m in messages)
    assert any("platform_function('exporter', name=..., role=...): give key=" in m for m in messages)
    for rtype in ("aws_s3_bucket_public_access_block", "aws_s3_bucket_server_side_encryption_configuration"):
        assert old.one(rtype) == stack.one(rtype)
    assert (
        old.one("aws_lambda_function")["role"]
        == stack.one("aws_lambda_function", function_name="exporter-test")["role"]
    )
    # the caller's own grant of the basics, as before: no duplicate statement
    assert [s["Sid"] for s in old.iam_statements("exporter")] == ["VpcNetworkInterfaces", "WriteOwnLogs", "XRayTracing"]
    assert old.built.build.monitoring.functions.all() == []


def test_function_without_a_role_or_its_description_is_refused_naming_the_plugin():
    with pytest.raises(Exception, match="plugin 'exports' function 'exporter': give key= and either role_description="):
        synth(["exports"], extra_plugins={"stubs": STUBS, "exports": Exports(role_description=None)}, cache=False)


def test_unknown_bucket_part_id_is_refused():
    with pytest.raises(RegistrationError, match="unknown part ids \\['polcy'\\]"):
        bucket_in_scope(
            None,
            "b",
            name="b",
            kms_key_arn="k",
            lifecycle=BucketLifecycle("r", noncurrent_version_days=1),
            part_ids={"polcy": "b_policy"},
        )
