"""Least privilege, proven on the emulator with IAM enforced.

Each function's containers run with an identity holding exactly its deployed role's policies
(core/local/emulator/function_identities.py); the emulator evaluates them against the real resource ARNs
(core/local/emulator/moto_authorization.py). The happy paths in test_local_api.py pass under those
identities; here, what a function must not do is denied.
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from e2e_support import LocalDeployment

from payments_platform.core.local.emulator.function_identities import user_name_of
from payments_platform.core.local.processes import emulator_client

pytestmark = pytest.mark.terraform

PROCESSOR, CHECKER = "transaction-processor", "status-checker"


def name(deployment: LocalDeployment, function: str) -> str:
    return f"{function}-{deployment.environment.suffix}"


def denied(call) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "AuthorizationError")
    return False


def table_key() -> dict:
    return {"transaction_id": {"S": "txn_probe"}, "timestamp": {"N": "1"}}


def test_the_emulator_enforces_iam_for_unknown_credentials(deployment: LocalDeployment):
    stranger = emulator_client("dynamodb", deployment.endpoint, "us-east-1", "AKIAUNKNOWN0000000000", "x")
    with pytest.raises(ClientError) as raised:
        stranger.list_tables()
    assert raised.value.response["Error"]["Code"] in (
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "AccessDenied",
    )


def test_status_checker_may_query_the_table(deployment: LocalDeployment):
    dynamodb = deployment.function_client(name(deployment, CHECKER), "dynamodb")
    dynamodb.query(
        TableName=deployment.outputs["transactions_table_name"],
        KeyConditionExpression="transaction_id = :t",
        ExpressionAttributeValues={":t": {"S": "txn_probe"}},
    )


def test_status_checker_cannot_put_items(deployment: LocalDeployment):
    dynamodb = deployment.function_client(name(deployment, CHECKER), "dynamodb")
    item = {**table_key(), "record_type": {"S": "transaction"}}
    assert denied(lambda: dynamodb.put_item(TableName=deployment.outputs["transactions_table_name"], Item=item))


def test_status_checker_cannot_send_audit_messages(deployment: LocalDeployment):
    sqs = deployment.function_client(name(deployment, CHECKER), "sqs")
    assert denied(
        lambda: sqs.send_message(
            QueueUrl=deployment.outputs["audit_queue_url"], MessageBody="{}", MessageGroupId="probe"
        )
    )


def test_status_checker_cannot_publish_events(deployment: LocalDeployment):
    sns = deployment.function_client(name(deployment, CHECKER), "sns")
    assert denied(lambda: sns.publish(TopicArn=deployment.outputs["notifications_topic_arn"], Message="{}"))


def test_status_checker_cannot_read_the_card_fingerprint_key(deployment: LocalDeployment):
    spec = next(f for f in deployment.gateway_spec["functions"] if f["name"] == name(deployment, PROCESSOR))
    secrets = deployment.function_client(name(deployment, CHECKER), "secretsmanager")
    assert denied(lambda: secrets.get_secret_value(SecretId=spec["environment"]["CARD_FINGERPRINT_SECRET_ARN"]))


@pytest.mark.parametrize("operation", ["delete_item", "scan"])
def test_transaction_processor_cannot_delete_or_scan(deployment: LocalDeployment, operation: str):
    dynamodb = deployment.function_client(name(deployment, PROCESSOR), "dynamodb")
    table = deployment.outputs["transactions_table_name"]
    calls = {
        "delete_item": lambda: dynamodb.delete_item(TableName=table, Key=table_key()),
        "scan": lambda: dynamodb.scan(TableName=table),
    }
    assert denied(calls[operation])


def test_transaction_processor_cannot_touch_another_table(deployment: LocalDeployment):
    admin = deployment.client("dynamodb")
    other = f"probe-other-table-{int(time.time())}"
    admin.create_table(
        TableName=other,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
    )
    try:
        dynamodb = deployment.function_client(name(deployment, PROCESSOR), "dynamodb")
        assert denied(lambda: dynamodb.put_item(TableName=other, Item={"transaction_id": {"S": "x"}}))
    finally:
        admin.delete_table(TableName=other)


@pytest.mark.parametrize(("writer", "owner"), [(PROCESSOR, CHECKER), (CHECKER, PROCESSOR)])
def test_a_function_cannot_write_to_the_other_functions_log_group(deployment: LocalDeployment, writer: str, owner: str):
    logs = deployment.function_client(name(deployment, writer), "logs")
    group = f"/aws/lambda/{name(deployment, owner)}"
    assert denied(lambda: logs.create_log_stream(logGroupName=group, logStreamName="probe"))


@pytest.mark.parametrize("function", [PROCESSOR, CHECKER])
def test_a_function_may_write_to_its_own_log_group(deployment: LocalDeployment, function: str):
    logs = deployment.function_client(name(deployment, function), "logs")
    group = f"/aws/lambda/{name(deployment, function)}"
    stream = f"probe-{time.time_ns()}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps({"probe": True})}],
    )


def test_identities_carry_exactly_the_deployed_role_policies(deployment: LocalDeployment):
    iam = deployment.client("iam")
    for function in (PROCESSOR, CHECKER):
        role = deployment.client("lambda").get_function_configuration(FunctionName=name(deployment, function))["Role"]
        role_name = role.rsplit("/", 1)[-1]
        user = user_name_of(name(deployment, function))
        role_policies = {
            p: iam.get_role_policy(RoleName=role_name, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        }
        user_policies = {
            p: iam.get_user_policy(UserName=user, PolicyName=p)["PolicyDocument"]
            for p in iam.list_user_policies(UserName=user)["PolicyNames"]
        }
        assert role_policies and user_policies == role_policies
        attached = lambda listing: sorted(p["PolicyArn"] for p in listing["AttachedPolicies"])  # noqa: E731
        assert attached(iam.list_attached_user_policies(UserName=user)) == attached(
            iam.list_attached_role_policies(RoleName=role_name)
        )
