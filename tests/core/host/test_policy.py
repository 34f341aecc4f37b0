"""Policy rules on synthesized Terraform JSON: each rule fails for its own reason."""

from __future__ import annotations

import json

import pytest

from payments_platform.core import PluginDeclaration, hookimpl
from payments_platform.core.cdktf_adapter import aws
from payments_platform.core.context import Suppression
from payments_platform.core.errors import PolicyViolation
from payments_platform.core.host.policy import PolicyInput, check
from payments_platform.core.testing import synth

TAGS = {"platform": "payments-platform", "environment": "test"}
POLICY = PolicyInput("test", TAGS, frozenset({"aws_sqs_queue"}), frozenset({"Xray"}))


def config(rtype: str, body: dict, path: str = "payments-test/messaging/queue") -> dict:
    return {"resource": {rtype: {"r1": {"//": {"metadata": {"path": path}}, **body}}}}


def violations(rtype, body, **kw):
    return check(config(rtype, body), POLICY, **kw)


GOOD_QUEUE = {"name": "transaction-queue-test.fifo", "kms_master_key_id": "k", "tags": TAGS}


def test_compliant_resource_has_no_violations():
    assert violations("aws_sqs_queue", GOOD_QUEUE) == []


def test_name_without_suffix_is_flagged_with_plugin_and_path():
    (v,) = violations("aws_sqs_queue", {**GOOD_QUEUE, "name": "transaction-queue.fifo"})
    assert v.startswith("[PP-NAME-SUFFIX] aws_sqs_queue.r1 (plugin 'messaging', path payments-test/messaging/queue)")


def test_suffix_must_be_a_whole_name_part():
    (v,) = violations("aws_sqs_queue", {**GOOD_QUEUE, "name": "contest-queue.fifo"})
    assert "PP-NAME-SUFFIX" in v


def test_token_names_are_not_judged():
    assert violations("aws_sqs_queue", {**GOOD_QUEUE, "name": "${var.name}"}) == []


def test_missing_platform_tag_is_flagged():
    (v,) = violations("aws_sqs_queue", {**GOOD_QUEUE, "tags": {"platform": "payments-platform"}})
    assert "[PP-TAGS]" in v and "environment" in v


@pytest.mark.parametrize("flag", ["deletion_protection_enabled", "deletion_protection", "skip_destroy"])
def test_deletion_protection_is_flagged(flag):
    (v,) = violations(
        "aws_dynamodb_table",
        {"name": "t-test", flag: True, "server_side_encryption": {"enabled": True, "kms_key_arn": "k"}},
    )
    assert "[PP-DESTROYABLE]" in v


def test_prevent_destroy_is_flagged():
    (v,) = violations("aws_sqs_queue", {**GOOD_QUEUE, "lifecycle": {"prevent_destroy": True}})
    assert "prevent_destroy" in v


def test_long_kms_deletion_window_is_flagged():
    (v,) = violations("aws_kms_key", {"deletion_window_in_days": 30})
    assert "at most 7" in v


def test_log_group_needs_retention_and_key():
    found = violations("aws_cloudwatch_log_group", {"name": "/aws/x-test"})
    assert len(found) == 2 and all("[PP-LOG-GROUP]" in v for v in found)


def test_log_group_retention_must_be_a_cloudwatch_period():
    (v,) = violations("aws_cloudwatch_log_group", {"name": "/aws/x-test", "retention_in_days": 31, "kms_key_id": "k"})
    assert "not a period CloudWatch Logs accepts" in v


def _policy_doc(statement: dict) -> dict:
    return {"name": "p-test", "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}


def test_wildcard_action_in_rendered_policy_is_flagged():
    (v,) = violations("aws_iam_role_policy", _policy_doc({"Sid": "A", "Action": "s3:*", "Resource": "arn:x"}))
    assert "wildcard action 's3:*'" in v


def test_any_resource_without_registered_reason_is_flagged():
    (v,) = violations(
        "aws_iam_role_policy", _policy_doc({"Sid": "Other", "Action": ["sqs:SendMessage"], "Resource": "*"})
    )
    assert "without a registered reason" in v


def test_any_resource_with_registered_reason_passes():
    assert (
        violations(
            "aws_iam_role_policy", _policy_doc({"Sid": "Xray", "Action": ["xray:PutTraceSegments"], "Resource": "*"})
        )
        == []
    )


def test_unencrypted_table_is_flagged():
    (v,) = violations("aws_dynamodb_table", {"name": "t-test"})
    assert "[PP-KMS-AT-REST]" in v


def test_lambda_without_its_log_group_is_flagged():
    found = violations("aws_lambda_function", {"function_name": "fn-test", "tags": TAGS})
    assert any("[PP-LAMBDA-LOG-GROUP]" in v and "0 log groups" in v for v in found)


BUCKET_PATH = "payments-test/audit/archive_bucket"


def _bucket_config(sse_default: dict | None) -> dict:
    resources: dict = {"aws_s3_bucket": {"archive": {"//": {"metadata": {"path": BUCKET_PATH}}, "bucket": "b"}}}
    if sse_default is not None:
        resources["aws_s3_bucket_server_side_encryption_configuration"] = {
            "sse": {
                "//": {"metadata": {"path": "payments-test/audit/archive_sse"}},
                "bucket": "${aws_s3_bucket.archive.id}",
                "rule": [{"apply_server_side_encryption_by_default": sse_default}],
            }
        }
    return {"resource": resources}


def test_bucket_without_encryption_is_flagged_in_one_line_naming_it():
    (v,) = check(_bucket_config(None), POLICY)
    assert v.startswith(f"[PP-S3-CMK] aws_s3_bucket.archive (plugin 'audit', path {BUCKET_PATH}): ")
    assert "\n" not in v


def test_bucket_encrypted_with_s3_managed_keys_is_flagged():
    (v,) = check(_bucket_config({"sse_algorithm": "AES256"}), POLICY)
    assert "[PP-S3-CMK] aws_s3_bucket.archive" in v


def test_bucket_encrypted_with_the_cmk_passes():
    assert (
        check(_bucket_config({"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.k.arn}"}), POLICY) == []
    )


def test_suppression_exempts_one_bucket_from_the_encryption_rule():
    suppression = Suppression(BUCKET_PATH, "PP-S3-CMK", "test bucket, never holds data", "audit")
    assert check(_bucket_config(None), POLICY, [suppression]) == []


def test_suppression_exempts_one_rule_on_one_resource():
    body = {**GOOD_QUEUE, "name": "legacy-queue.fifo"}
    suppression = Suppression("payments-test/messaging/queue", "PP-NAME-SUFFIX", "imported legacy name", "messaging")
    assert check(config("aws_sqs_queue", body), POLICY, [suppression]) == []


class LeakyLogs:
    """Creates a log group with no retention and no key: synth must refuse it."""

    def __init__(self, suppress: bool = False):
        self.suppress = suppress

    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name="leaky", description="breaks PP-LOG-GROUP")

    @hookimpl
    def payments_resources(self, ctx):
        group = aws.cloudwatch_log_group.CloudwatchLogGroup(ctx.scope, "debug_logs", name=ctx.naming.name("debug-logs"))
        if self.suppress:
            ctx.policy.suppress(group, "PP-LOG-GROUP", "test-only group, deleted with the stack")


def test_synth_fails_naming_the_plugin_and_writes_nothing(tmp_path):
    with pytest.raises(PolicyViolation) as excinfo:
        synth([], extra_plugins={"leaky": LeakyLogs()}, cache=False)
    message = str(excinfo.value)
    assert "[PP-LOG-GROUP]" in message and "plugin 'leaky'" in message and "debug_logs" in message


def test_suppressed_rule_lets_synth_pass():
    stack = synth([], extra_plugins={"leaky": LeakyLogs(suppress=True)}, cache=False)
    assert len(stack.resources("aws_cloudwatch_log_group")) == 1


def test_platform_key_rotates_and_is_deletable_within_7_days():
    stack = synth([], extra_plugins={"leaky": LeakyLogs(suppress=True)})
    (key,) = stack.resources("aws_kms_key").values()
    assert key["enable_key_rotation"] is True and key["deletion_window_in_days"] == 7
    assert {s["Sid"] for s in json.loads(key["policy"])["Statement"]} >= {
        "EnableAccountAdministration",
        "AllowCloudWatchLogs",
    }


def _bucket(address: str = "archive", *, with_encryption: dict | None) -> dict:
    resources: dict = {"aws_s3_bucket": {address: {"//": {"metadata": {"path": "payments-test/audit/archive_bucket"}}}}}
    if with_encryption is not None:
        resources["aws_s3_bucket_server_side_encryption_configuration"] = {
            "sse": {
                "bucket": f"${{aws_s3_bucket.{address}.id}}",
                "rule": [{"apply_server_side_encryption_by_default": with_encryption}],
            }
        }
    return {"resource": resources}


def test_bucket_with_cmk_default_encryption_passes():
    assert check(_bucket(with_encryption={"sse_algorithm": "aws:kms", "kms_master_key_id": "k"}), POLICY) == []


@pytest.mark.parametrize(
    "encryption",
    [None, {"sse_algorithm": "AES256"}, {"sse_algorithm": "aws:kms"}],
    ids=["none", "s3-managed", "aws-managed-key"],
)
def test_bucket_without_cmk_default_encryption_is_flagged_in_one_line_naming_it(encryption):
    (v,) = check(_bucket(with_encryption=encryption), POLICY)
    assert v.startswith("[PP-S3-CMK] aws_s3_bucket.archive (plugin 'audit', path payments-test/audit/archive_bucket)")
    assert "\n" not in v


class PlainBucket:
    """Creates a bucket and no encryption configuration: synth must refuse it."""

    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name="plain", description="breaks PP-S3-CMK")

    @hookimpl
    def payments_resources(self, ctx):
        aws.s3_bucket.S3Bucket(ctx.scope, "reports", bucket=ctx.naming.name("reports"))


def test_synth_refuses_a_bucket_without_encryption():
    with pytest.raises(PolicyViolation) as excinfo:
        synth([], extra_plugins={"plain": PlainBucket()}, cache=False)
    (violation,) = excinfo.value.violations
    assert violation.startswith("payments-test: [PP-S3-CMK] aws_s3_bucket.plain_reports_")
    assert "(plugin 'plain', path payments-test/plain/reports): bucket has no default encryption" in violation
