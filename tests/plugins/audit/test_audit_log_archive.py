"""CloudWatch Logs subscription → Firehose → archive bucket, for every log group of the stack."""

from __future__ import annotations

import json

import pytest
from audit_support import LOG_SOURCE, STUBS, audit_synth, ref

from payments_platform.core import PluginDeclaration, RegistrationError, hookimpl, keys
from payments_platform.core.cdktf_adapter import aws
from payments_platform.core.testing import assert_resource, synth

STREAM = "aws_kinesis_firehose_delivery_stream"


def _stream(stack, key):
    return stack.one(STREAM, name=f"audit-logs-{key}-test")


def _stream_ref(stack, key):
    (logical_id,) = [i for i, b in stack.resources(STREAM).items() if b["name"] == f"audit-logs-{key}-test"]
    return f"${{{STREAM}.{logical_id}.arn}}"


def test_every_registered_log_group_gets_a_stream_the_archivers_own_included(audit_stack):
    assert sorted(b["name"] for b in audit_stack.resources(STREAM).values()) == [
        "audit-logs-app-test",
        "audit-logs-audit-archiver-test",
    ]


def test_a_log_group_nobody_registered_is_archived_under_its_construct_id():
    stack = audit_synth(plugins=("audit", "quietsource"))
    s3 = _stream(stack, "quiet")["extended_s3_configuration"]
    assert s3["prefix"] == "logs/quiet/"
    (group_id,) = [i for i, b in stack.resources("aws_cloudwatch_log_group").items() if "quiet" in b["name"]]
    assert_resource(
        stack,
        "aws_cloudwatch_log_subscription_filter",
        {
            "log_group_name": f"${{aws_cloudwatch_log_group.{group_id}.name}}",
            "destination_arn": _stream_ref(stack, "quiet"),
        },
    )


def test_every_log_group_of_the_stack_has_exactly_one_subscription_to_the_archive():
    stack = audit_synth(plugins=("audit", "quietsource"))
    groups = {f"${{aws_cloudwatch_log_group.{i}.name}}" for i in stack.resources("aws_cloudwatch_log_group")}
    subscribed = [b["log_group_name"] for b in stack.resources("aws_cloudwatch_log_subscription_filter").values()]
    assert sorted(subscribed) == sorted(groups) and len(groups) == 3


def test_stream_writes_to_the_archive_bucket_under_a_prefix_per_log_group(audit_stack):
    s3 = _stream(audit_stack, "app")["extended_s3_configuration"]
    assert s3["bucket_arn"] == ref(audit_stack, "aws_s3_bucket")
    assert (s3["prefix"], s3["error_output_prefix"]) == ("logs/app/", "logs-errors/app/")


def test_stream_encrypts_objects_and_its_buffer_with_the_platform_cmk(audit_stack):
    stream = _stream(audit_stack, "app")
    key = ref(audit_stack, "aws_kms_key")
    assert stream["extended_s3_configuration"]["kms_key_arn"] == key
    assert stream["server_side_encryption"] == {"enabled": True, "key_type": "CUSTOMER_MANAGED_CMK", "key_arn": key}


def test_log_group_is_subscribed_to_its_stream_with_every_event(audit_stack):
    (group_id,) = [
        i for i, b in audit_stack.resources("aws_cloudwatch_log_group").items() if b["name"] == "/aws/app/app-test"
    ]
    assert_resource(
        audit_stack,
        "aws_cloudwatch_log_subscription_filter",
        {
            "log_group_name": f"${{aws_cloudwatch_log_group.{group_id}.name}}",
            "destination_arn": _stream_ref(audit_stack, "app"),
            "filter_pattern": "",
        },
    )


def test_cloudwatch_logs_may_put_records_into_the_archive_streams_only(audit_stack):
    (statement,) = audit_stack.iam_statements("audit-log-subscription")
    assert statement["Action"] == ["firehose:PutRecord", "firehose:PutRecordBatch"]
    assert sorted(statement["Resource"]) == sorted(
        [_stream_ref(audit_stack, "app"), _stream_ref(audit_stack, "audit-archiver")]
    )


def test_firehose_may_write_under_the_logs_prefixes_only(audit_stack):
    statements = {s["Sid"]: s for s in audit_stack.iam_statements("audit-log-delivery")}
    bucket = ref(audit_stack, "aws_s3_bucket")
    assert statements["ArchiveObjects"]["Resource"] == [f"{bucket}/logs/*", f"{bucket}/logs-errors/*"]
    assert statements["ArchiveBucket"]["Resource"] == bucket
    assert statements["ArchiveObjectsKms"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    }


def test_roles_are_trusted_by_firehose_and_cloudwatch_logs(audit_stack):
    trusted = {
        body["name"]: json.loads(body["assume_role_policy"])["Statement"][0]["Principal"]["Service"]
        for body in audit_stack.resources("aws_iam_role").values()
    }
    assert trusted["audit-log-delivery-role-test"] == "firehose.amazonaws.com"
    assert trusted["audit-log-subscription-role-test"] == "logs.amazonaws.com"


def test_the_services_may_assume_the_roles_only_for_this_account(audit_stack):
    trust = {
        body["name"]: json.loads(body["assume_role_policy"])["Statement"][0].get("Condition")
        for body in audit_stack.resources("aws_iam_role").values()
    }
    (caller,) = audit_stack.data_sources("aws_caller_identity")
    account = f"${{data.aws_caller_identity.{caller}.account_id}}"
    assert trust["audit-log-delivery-role-test"] == {"StringEquals": {"sts:ExternalId": account}}
    (source_arn,) = trust["audit-log-subscription-role-test"]["StringLike"].values()
    assert source_arn.startswith("arn:${data.aws_partition.") and source_arn.endswith(f":logs:us-east-1:{account}:*")


class _ShadowingLogSource:
    """Makes an unregistered log group whose construct id gives the registered key 'app'."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(name="shadow", description="unregistered log group named like a registered one")

    @hookimpl
    def payments_resources(self, ctx) -> None:
        aws.cloudwatch_log_group.CloudwatchLogGroup(
            ctx.scope, "app_log_group", name="/aws/shadow/app", retention_in_days=30, kms_key_id=ctx[keys.KMS_KEY].arn
        )


def test_an_unregistered_log_group_whose_key_is_taken_fails_synth_naming_it():
    with pytest.raises(RegistrationError, match="shadow/app_log_group.*register it"):
        synth(
            ["audit", "shadow"],
            extra_plugins={"stubs": STUBS, "logsource": LOG_SOURCE, "shadow": _ShadowingLogSource()},
        )
