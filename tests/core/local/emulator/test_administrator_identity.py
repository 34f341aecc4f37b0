"""The emulator's administrator is one identity everywhere: GetCallerIdentity (what Terraform reads
as the deploying principal) and the bucket-policy check's ``aws:PrincipalArn`` name the same user,
so a policy excepting the deployer -- the audit archive's teardown principal -- lets it through
(core/local/emulator/admin.py ``signed_access_key``), through boto3 against the emulator process."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from payments_platform.core.local.emulator.admin import ACCOUNT_ID, ADMIN_USER_NAME

ADMIN_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/{ADMIN_USER_NAME}"


def test_get_caller_identity_names_the_administrator_user(admin):
    assert admin("sts").get_caller_identity()["Arn"] == ADMIN_ARN
    assert admin("iam").get_user()["User"]["Arn"] == ADMIN_ARN


def test_a_bucket_policy_excepting_the_callers_identity_lets_the_administrator_overwrite(admin, user_with_policy):
    s3 = admin("s3")
    bucket = f"deployer-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    deployer = admin("sts").get_caller_identity()["Arn"]
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyOverwrite",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                        "Condition": {
                            "Null": {"s3:if-none-match": "true"},
                            "ArnNotEquals": {"aws:PrincipalArn": [deployer]},
                        },
                    }
                ],
            }
        ),
    )
    s3.put_object(Bucket=bucket, Key="record", Body=b"first")
    s3.put_object(Bucket=bucket, Key="record", Body=b"second")
    other = user_with_policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})("s3")
    with pytest.raises(ClientError) as refused:
        other.put_object(Bucket=bucket, Key="record", Body=b"third")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3.get_object(Bucket=bucket, Key="record")["Body"].read() == b"second"
