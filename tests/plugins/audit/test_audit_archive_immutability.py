"""The archive's bucket policy (bucket.py, as synthesized) on the emulator's S3 -- moto with the
emulator's bucket-policy evaluation (core/local/emulator/moto_bucket_policy.py): a function's
identity and an ordinary administrator role cannot delete or overwrite an archived object; the
teardown principal can. The deployed policy on ``local up``: tests/e2e/test_audit_archive.py."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from payments_platform.core.builders import deny_insecure_transport
from payments_platform.core.local.emulator import moto_bucket_policy
from payments_platform.plugins.audit.bucket import archive_policy_statements

ACCOUNT = "123456789012"
BUCKET = "123456789012-payments-audit-archive-test"
KEY = "audit/2026/12/06/txn_1/created-abc.json"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture
def emulator(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    moto_bucket_policy.apply()
    try:
        with mock_aws():
            yield
    finally:
        moto_bucket_policy.PATCHES.uninstall()


def _user(iam, name: str) -> dict:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


@pytest.fixture
def archive(emulator):
    """The archive bucket holding one object, and S3 clients for each kind of principal."""
    iam = boto3.client("iam")
    teardown = _user(iam, "deployer")
    function = _user(iam, "local-fn-audit-archiver")  # as core/local/emulator/function_identities.py makes it
    iam.create_role(
        RoleName="ordinary-admin",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.put_role_policy(RoleName="ordinary-admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
    session = boto3.client("sts", **teardown).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/ordinary-admin", RoleSessionName="someone"
    )["Credentials"]
    admin_role = {
        "aws_access_key_id": session["AccessKeyId"],
        "aws_secret_access_key": session["SecretAccessKey"],
        "aws_session_token": session["SessionToken"],
    }
    kms_key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3", **teardown)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    bucket_arn = f"arn:aws:s3:::{BUCKET}"
    statements = archive_policy_statements(
        bucket_arn,
        kms_key,
        teardown_principal_arns=[f"arn:aws:iam::{ACCOUNT}:user/deployer"],
        log_writer_arns=[f"arn:aws:iam::{ACCOUNT}:role/audit-log-delivery-role-test"],
    )
    policy = {"Version": "2012-10-17", "Statement": [deny_insecure_transport(bucket_arn), *statements]}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    clients = {
        "teardown": s3,
        "function": boto3.client("s3", **function),
        "admin_role": boto3.client("s3", **admin_role),
    }
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key}
    clients["function"].put_object(Bucket=BUCKET, Key=KEY, Body=b"original", IfNoneMatch="*", **encryption)
    return clients, encryption


def _refused(call) -> bool:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"] in ("AccessDenied", "403")


def _body(s3) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()


@pytest.mark.parametrize("principal", ["function", "admin_role"])
def test_an_archived_object_cannot_be_deleted_by_a_function_or_an_ordinary_admin(archive, principal):
    clients, _ = archive
    s3 = clients[principal]
    (version,) = clients["teardown"].list_object_versions(Bucket=BUCKET)["Versions"]
    assert _refused(lambda: s3.delete_object(Bucket=BUCKET, Key=KEY))
    assert _refused(lambda: s3.delete_object(Bucket=BUCKET, Key=KEY, VersionId=version["VersionId"]))
    deleted = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": KEY, "VersionId": version["VersionId"]}]})
    assert [e["Code"] for e in deleted.get("Errors", [])] == ["AccessDenied"]
    assert _body(clients["teardown"]) == b"original"


@pytest.mark.parametrize("principal", ["function", "admin_role"])
def test_an_archived_object_cannot_be_overwritten_by_a_function_or_an_ordinary_admin(archive, principal):
    clients, encryption = archive
    s3 = clients[principal]
    assert _refused(lambda: s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"rewritten", **encryption))
    # With If-None-Match the write is let through the policy, and S3 refuses it: the key exists.
    with pytest.raises(ClientError) as conditional:
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"rewritten", IfNoneMatch="*", **encryption)
    assert conditional.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert _body(clients["teardown"]) == b"original"


def test_a_new_record_is_still_written_with_if_none_match(archive):
    clients, encryption = archive
    clients["function"].put_object(Bucket=BUCKET, Key=f"{KEY}.2", Body=b"next", IfNoneMatch="*", **encryption)
    assert clients["teardown"].get_object(Bucket=BUCKET, Key=f"{KEY}.2")["Body"].read() == b"next"


def test_the_teardown_principal_can_overwrite_and_delete_every_version(archive):
    clients, encryption = archive
    s3 = clients["teardown"]
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"replaced", **encryption)
    assert _body(s3) == b"replaced"
    for version in s3.list_object_versions(Bucket=BUCKET)["Versions"]:
        s3.delete_object(Bucket=BUCKET, Key=KEY, VersionId=version["VersionId"])
    assert "Versions" not in s3.list_object_versions(Bucket=BUCKET)
