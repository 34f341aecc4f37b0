"""Two emulator fixes the audit archive needs: bucket-policy conditions evaluated as S3 does
(moto_bucket_policy.py), and a queue's RedrivePolicy read back compactly (in-process moto)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from payments_platform.core.local.emulator import moto_bucket_policy, moto_fidelity

BUCKET = "emulator-fix-test"


def _bucket_with(statement: dict) -> object:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    return s3


def _deny(**extra) -> dict:
    return {
        "Sid": "D",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
        **extra,
    }


@pytest.fixture(autouse=True)
def fixed_moto(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    moto_bucket_policy.apply()
    moto_fidelity.install()
    try:
        with mock_aws():
            yield
    finally:  # this process's moto as it was, for the tests after these
        moto_fidelity.PATCHES.uninstall()
        moto_bucket_policy.PATCHES.uninstall()


def test_a_deny_whose_condition_does_not_hold_lets_objects_through():
    s3 = _bucket_with(_deny(Condition={"Bool": {"aws:SecureTransport": "false"}}))
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"x"


def test_an_unconditional_deny_still_refuses_objects():
    s3 = _bucket_with(_deny())
    with pytest.raises(ClientError):
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")


@pytest.mark.parametrize("set_by", ["CreateQueue", "SetQueueAttributes"])  # inline, or aws_sqs_queue_redrive_policy
def test_a_redrive_policy_reads_back_as_compact_json_like_sqs_returns_it(set_by):
    sqs = boto3.client("sqs", region_name="us-east-1")
    dead_letter_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5}, separators=(",", ":"))
    if set_by == "CreateQueue":
        url = sqs.create_queue(QueueName="source", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    else:
        url = sqs.create_queue(QueueName="source")["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
        == policy
    )


def test_an_outdated_tls_deny_does_not_refuse_the_emulators_tls_stand_in():
    s3 = _bucket_with(_deny(Condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}}))
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")


def test_a_queue_whose_redrive_policy_was_removed_reports_none():
    """What the provider waits for after deleting an aws_sqs_queue_redrive_policy (empty = absent)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    dead_letter_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="source")["QueueUrl"]
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})}
    )
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    for queue_url in (url, dead_letter_url):  # removed, and never set
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        assert "RedrivePolicy" not in attributes


@pytest.mark.parametrize(
    ("operator", "expected", "holds"),
    [
        ("ArnEquals", "arn:aws:iam::123456789012:role/deployer", True),
        ("ArnNotEquals", "arn:aws:iam::123456789012:role/deployer", False),
        ("ArnLike", "arn:aws:iam::123456789012:role/*", True),
        ("ArnNotLike", "arn:aws:iam::123456789012:user/*", True),
    ],
)
def test_arn_operators_compare_the_principal_arn(operator, expected, holds):
    keys = {"aws:principalarn": "arn:aws:iam::123456789012:role/deployer"}
    assert moto_bucket_policy.condition_holds(operator, "aws:PrincipalArn", [expected], keys) is holds


def test_a_request_signed_by_an_unknown_key_has_no_principal_arn():
    headers = {"authorization": "AWS4-HMAC-SHA256 Credential=NOSUCHKEY/20261206/us-east-1/s3/aws4_request, ..."}
    assert moto_bucket_policy.principal_arn(headers) is None
