"""The audit queue's consumer: function, event source mapping, dead-letter queue, role."""

from __future__ import annotations

import dataclasses

import pytest
from audit_support import STUBS, audit_synth, ref

from payments_platform.core import ConfigError, keys
from payments_platform.core.testing import StubProvider, assert_resource, synth
from payments_platform.plugins.audit.consumer import ARCHIVE_PREFIX
from payments_platform.runtime import audit_archive

QUEUE = STUBS.values[keys.AUDIT_QUEUE]
PACKAGE = STUBS.values[keys.RUNTIME_PACKAGE]
NETWORK = STUBS.values[keys.NETWORK]


def _statements(stack):
    return {s["Sid"]: s for s in stack.iam_statements("audit-archiver")}


def test_function_runs_the_archiver_handler_from_the_runtime_package(audit_stack):
    assert_resource(
        audit_stack,
        "aws_lambda_function",
        {
            "function_name": "audit-archiver-test",
            "handler": "payments_runtime.audit_archive.handler",
            **PACKAGE.code,
            "source_code_hash": PACKAGE.source_code_hash,
            "runtime": PACKAGE.runtime,
            "architectures": [PACKAGE.architecture],
        },
    )


def test_function_runs_in_the_private_subnets_with_tracing(audit_stack):
    assert_resource(
        audit_stack,
        "aws_lambda_function",
        {
            "vpc_config": {
                "subnet_ids": list(NETWORK.private_subnet_ids),
                "security_group_ids": [NETWORK.lambda_security_group_id],
            },
            "tracing_config": {"mode": "Active"},
            "kms_key_arn": ref(audit_stack, "aws_kms_key"),
        },
    )


def test_function_is_told_the_bucket_and_key_to_write_with(audit_stack):
    (function,) = audit_stack.resources("aws_lambda_function").values()
    variables = function["environment"]["variables"]
    assert variables["ARCHIVE_BUCKET_NAME"].endswith("-payments-audit-archive-test")
    assert variables["ARCHIVE_KMS_KEY_ARN"] == ref(audit_stack, "aws_kms_key")


def test_event_source_reads_the_audit_queue_in_batches_with_partial_failures(audit_stack):
    (mapping,) = audit_stack.resources("aws_lambda_event_source_mapping").values()
    assert mapping["event_source_arn"] == QUEUE.arn
    assert (mapping["batch_size"], mapping["function_response_types"]) == (10, ["ReportBatchItemFailures"])
    # FIFO queues allow no batching window.
    assert "maximum_batching_window_in_seconds" not in mapping


def test_batch_size_follows_the_settings():
    (mapping,) = audit_synth({"batch_size": 4}).resources("aws_lambda_event_source_mapping").values()
    assert mapping["batch_size"] == 4


def test_a_queue_without_a_dead_letter_queue_is_refused():
    bare = {**STUBS.values, keys.AUDIT_QUEUE: dataclasses.replace(QUEUE, dead_letter_queue_arn="")}
    refused = r"^environment 'test', plugin 'audit': the audit queue \(messaging.audit_queue\) has no dead-letter queue"
    with pytest.raises(ConfigError, match=refused):
        synth(["audit"], extra_plugins={"stubs": StubProvider("stubs", bare)}, cache=False)


def test_role_holds_exactly_the_statements_the_archiver_needs(audit_stack):
    assert set(_statements(audit_stack)) == {
        "ArchiveWrite",
        "ArchiveWriteKms",
        "AuditQueueConsume",
        "AuditQueueConsumeKms",
        "VpcNetworkInterfaces",
        "WriteOwnLogs",
        "XRayTracing",
    }


def test_role_consumes_the_audit_queue_only(audit_stack):
    statement = _statements(audit_stack)["AuditQueueConsume"]
    assert statement["Action"] == ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
    assert statement["Resource"] == QUEUE.arn


def test_role_may_only_put_objects_under_the_audit_prefix(audit_stack):
    statement = _statements(audit_stack)["ArchiveWrite"]
    assert (statement["Action"], statement["Resource"]) == (
        ["s3:PutObject"],
        f"{ref(audit_stack, 'aws_s3_bucket')}/audit/*",
    )


def test_role_uses_the_key_only_through_sqs_and_s3(audit_stack):
    statements = _statements(audit_stack)
    assert statements["AuditQueueConsumeKms"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}
    }
    assert statements["ArchiveWriteKms"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    }


def test_no_audit_role_may_delete_from_the_archive(audit_stack):
    for role in ("audit-archiver", "audit-log-delivery", "audit-log-subscription"):
        actions = {a for s in audit_stack.iam_statements(role) for a in s["Action"]}
        assert not {a for a in actions if "Delete" in a and a.startswith("s3:")}, role


def test_archiver_errors_alarm_like_every_registered_function():
    stack = audit_synth(plugins=("audit", "observability"))
    assert_resource(stack, "aws_cloudwatch_metric_alarm", {"alarm_name": "audit-archiver-errors-test"})


def test_the_role_is_granted_the_prefix_the_runtime_writes_under():
    assert ARCHIVE_PREFIX == f"{audit_archive.ARCHIVE_PREFIX}/"
