"""The archive bucket: CMK, versioning, no public access, TLS-only, lifecycle, destroyable."""

from __future__ import annotations

import json

from audit_support import audit_synth, ref

from payments_platform.core.testing import assert_resource

BUCKET = "aws_s3_bucket"


def _bucket_ref(stack, attribute="id"):
    return ref(stack, BUCKET, attribute)


def _policy(stack):
    (body,) = stack.resources("aws_s3_bucket_policy").values()
    return {s["Sid"]: s for s in json.loads(body["policy"])["Statement"]}


def test_bucket_name_is_the_account_id_then_type_and_suffix(audit_stack):
    (body,) = audit_stack.resources(BUCKET).values()
    account, _, name = body["bucket"].partition("}-")
    assert account.startswith("${data.aws_caller_identity.") and name == "payments-audit-archive-test"


def test_bucket_is_emptied_on_destroy_so_the_platform_stays_destroyable(audit_stack):
    assert_resource(audit_stack, BUCKET, {"force_destroy": True})


def test_bucket_has_no_object_lock(audit_stack):
    (body,) = audit_stack.resources(BUCKET).values()
    assert not body.get("object_lock_enabled") and not audit_stack.resources("aws_s3_bucket_object_lock_configuration")


def test_bucket_encrypts_by_default_with_the_platform_cmk_and_a_bucket_key(audit_stack):
    key = ref(audit_stack, "aws_kms_key")
    assert_resource(
        audit_stack,
        "aws_s3_bucket_server_side_encryption_configuration",
        {
            "bucket": _bucket_ref(audit_stack),
            "rule": [
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key},
                    "bucket_key_enabled": True,
                }
            ],
        },
    )


def test_bucket_is_versioned(audit_stack):
    assert_resource(
        audit_stack,
        "aws_s3_bucket_versioning",
        {"bucket": _bucket_ref(audit_stack), "versioning_configuration": {"status": "Enabled"}},
    )


def test_bucket_blocks_every_kind_of_public_access(audit_stack):
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    assert_resource(
        audit_stack,
        "aws_s3_bucket_public_access_block",
        {"bucket": _bucket_ref(audit_stack), **dict.fromkeys(flags, True)},
    )


def test_bucket_disables_acls(audit_stack):
    assert_resource(
        audit_stack, "aws_s3_bucket_ownership_controls", {"rule": {"object_ownership": "BucketOwnerEnforced"}}
    )


def test_lifecycle_moves_to_glacier_instant_retrieval_then_expires_after_400_days_keeping_old_versions_as_long(
    audit_stack,
):
    (body,) = audit_stack.resources("aws_s3_bucket_lifecycle_configuration").values()
    (rule,) = body["rule"]
    assert rule["status"] == "Enabled" and rule["filter"] == [{"prefix": ""}]
    assert rule["transition"] == [{"days": 90, "storage_class": "GLACIER_IR"}]
    assert rule["expiration"] == [{"days": 400}]
    # PCI DSS 10.5.1: a deleted or overwritten record stays recoverable for the year too.
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 400}]


def test_lifecycle_follows_the_settings():
    stack = audit_synth({"retention_days": 731, "glacier_transition_days": 30})
    (body,) = stack.resources("aws_s3_bucket_lifecycle_configuration").values()
    (rule,) = body["rule"]
    assert (rule["transition"][0]["days"], rule["expiration"][0]["days"]) == (30, 731)


def test_policy_denies_requests_without_tls(audit_stack):
    bucket = _bucket_ref(audit_stack, "arn")
    assert _policy(audit_stack)["DenyInsecureTransport"] == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket, f"{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_policy_denies_tls_older_than_1_2(audit_stack):
    assert _policy(audit_stack)["DenyOutdatedTls"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}


def test_policy_denies_uploads_without_sse_kms(audit_stack):
    statement = _policy(audit_stack)["DenyUnencryptedObjectUploads"]
    assert (statement["Effect"], statement["Action"]) == ("Deny", "s3:PutObject")
    assert statement["Condition"] == {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}


def test_policy_denies_uploads_that_do_not_name_the_platform_key(audit_stack):
    statement = _policy(audit_stack)["DenyOtherKmsKeys"]
    assert statement["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": ref(audit_stack, "aws_kms_key")}
    }


def test_bucket_name_is_an_output(audit_stack):
    assert audit_stack.outputs()["audit_archive_bucket_name"]["value"].endswith("-payments-audit-archive-test")


TEARDOWN = "arn:aws:iam::111122223333:role/payments-deployer"


def _deployer_ref(stack) -> str:
    (logical_id,) = stack.data_sources("aws_iam_session_context")
    return f"${{data.aws_iam_session_context.{logical_id}.issuer_arn}}"


def test_policy_denies_deleting_archived_objects_and_versions_to_all_but_the_deploying_principal(audit_stack):
    statement = _policy(audit_stack)["DenyArchiveDeletion"]
    assert (statement["Effect"], statement["Principal"]) == ("Deny", "*")
    assert statement["Action"] == ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    assert statement["Resource"] == f"{_bucket_ref(audit_stack, 'arn')}/*"
    assert statement["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [_deployer_ref(audit_stack)]}}


def test_the_deploying_principal_is_the_role_behind_terraforms_session(audit_stack):
    (session,) = audit_stack.data_sources("aws_iam_session_context").values()
    (caller,) = audit_stack.data_sources("aws_caller_identity")
    assert session["arn"] == f"${{data.aws_caller_identity.{caller}.arn}}"


def test_policy_denies_overwrites_to_all_but_teardown_and_firehose(audit_stack):
    statement = _policy(audit_stack)["DenyArchiveOverwrite"]
    assert (statement["Effect"], statement["Action"]) == ("Deny", "s3:PutObject")
    delivery_role = next(
        f"${{aws_iam_role.{logical_id}.arn}}"
        for logical_id, body in audit_stack.resources("aws_iam_role").items()
        if "firehose.amazonaws.com" in body["assume_role_policy"]
    )
    assert statement["Condition"] == {
        "Null": {"s3:if-none-match": "true"},
        "ArnNotEquals": {"aws:PrincipalArn": [_deployer_ref(audit_stack), delivery_role]},
    }


def test_policy_denies_changing_policy_lifecycle_versioning_and_object_lock(audit_stack):
    statement = _policy(audit_stack)["DenyArchiveReconfiguration"]
    assert statement["Resource"] == _bucket_ref(audit_stack, "arn")
    assert {
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketVersioning",
        "s3:PutBucketObjectLockConfiguration",
        "s3:DeleteBucket",
    } <= set(statement["Action"])
    assert statement["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [_deployer_ref(audit_stack)]}}


def test_named_teardown_principals_replace_the_deploying_one():
    stack = audit_synth({"teardown_principal_arns": [TEARDOWN]})
    assert not stack.data_sources("aws_iam_session_context")
    policy = _policy(stack)
    for sid in ("DenyArchiveDeletion", "DenyArchiveReconfiguration"):
        assert policy[sid]["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [TEARDOWN]}}
    assert policy["DenyArchiveOverwrite"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"][0] == TEARDOWN
