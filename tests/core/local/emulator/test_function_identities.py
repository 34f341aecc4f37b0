"""A function's stand-in IAM user holds exactly its role's policies (core/local/emulator/function_identities.py),
against the real emulator process."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from payments_platform.core.local.emulator.function_identities import function_identity, remove_function_identity

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def policy(action: str, resource: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )


@pytest.fixture
def function_with_role(admin):
    """(function name, role ARN, the two topics): the role may publish to the first topic (inline
    policy) and list topics (attached managed policy)."""
    suffix = uuid.uuid4().hex[:8]
    iam, sns = admin("iam"), admin("sns")
    topics = [sns.create_topic(Name=f"{name}-{suffix}")["TopicArn"] for name in ("mine", "theirs")]
    role_arn = iam.create_role(RoleName=f"fn-role-{suffix}", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=f"fn-role-{suffix}", PolicyName="publish", PolicyDocument=policy("sns:Publish", topics[0])
    )
    managed = iam.create_policy(PolicyName=f"list-{suffix}", PolicyDocument=policy("sns:ListTopics", "*"))["Policy"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName=f"fn-role-{suffix}", PolicyArn=managed)
    return f"fn-{suffix}", role_arn, topics


def sns_as(emulator, credentials):
    session = boto3.session.Session(
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
    )
    return session.client("sns", endpoint_url=emulator.endpoint)


def test_the_function_user_may_do_what_its_role_may_and_nothing_else(emulator, admin, function_with_role):
    name, role_arn, (mine, theirs) = function_with_role
    sns = sns_as(emulator, function_identity(admin("iam"), name, role_arn))
    sns.publish(TopicArn=mine, Message="ok")
    assert sns.list_topics()["Topics"]  # the attached managed policy
    with pytest.raises(ClientError) as caught:
        sns.publish(TopicArn=theirs, Message="no")
    assert caught.value.response["Error"]["Code"] == "AuthorizationError"


def test_a_second_call_replaces_the_key_and_keeps_one(emulator, admin, function_with_role):
    name, role_arn, (mine, _) = function_with_role
    first = function_identity(admin("iam"), name, role_arn)
    second = function_identity(admin("iam"), name, role_arn)
    assert first.access_key_id != second.access_key_id
    assert [
        k["AccessKeyId"] for k in admin("iam").list_access_keys(UserName=second.user_name)["AccessKeyMetadata"]
    ] == [second.access_key_id]
    sns_as(emulator, second).publish(TopicArn=mine, Message="ok")


def test_removing_the_identity_deletes_the_user_and_tolerates_a_second_removal(admin, function_with_role):
    name, role_arn, _ = function_with_role
    credentials = function_identity(admin("iam"), name, role_arn)
    remove_function_identity(admin("iam"), name)
    remove_function_identity(admin("iam"), name)
    assert credentials.user_name not in {u["UserName"] for u in admin("iam").list_users()["Users"]}
