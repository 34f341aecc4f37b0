"""Resource-aware IAM enforcement on the emulator: a least-privilege Allow on one resource works
there and nowhere else (core/local/emulator/moto_authorization.py), through boto3 against the real
emulator process."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from iam_statements import allow, deny

from payments_platform.core.local.emulator.moto_authorization import (
    Authorization,
    RequestScope,
    dynamodb_authorizations,
    logs_authorizations,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
SCOPE = RequestScope("aws", REGION, ACCOUNT)
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"


def denied(call: Callable[[], Any]) -> str:
    """The error code of a call that must be refused with 403."""
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, caught.value.response
    return caught.value.response["Error"]["Code"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def item(key: str) -> dict[str, Any]:
    return {"pk": {"S": key}}


def put(table: str, key: str) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": item(key)}}


@pytest.fixture(scope="module")
def tables(admin) -> tuple[str, str]:
    names = unique("table-a"), unique("table-b")
    for name in names:
        admin("dynamodb").create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "gsi", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-gsi",
                    "KeySchema": [{"AttributeName": "gsi", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    return names


@pytest.fixture(scope="module")
def writer_of_a(user_with_policy, tables):
    """May PutItem, GetItem and Query on table A (not its index); nothing else."""
    a, _ = tables
    return user_with_policy(allow(["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"], TABLE_ARN + a))


# --------------------------------------------------------------------------- DynamoDB


def test_put_item_is_allowed_on_the_granted_table(writer_of_a, tables):
    writer_of_a("dynamodb").put_item(TableName=tables[0], Item=item("k1"))


def test_put_item_is_denied_on_another_table(writer_of_a, tables):
    assert (
        denied(lambda: writer_of_a("dynamodb").put_item(TableName=tables[1], Item=item("k1")))
        == "AccessDeniedException"
    )


def test_scan_and_delete_item_are_denied_on_the_granted_table(writer_of_a, tables):
    dynamodb = writer_of_a("dynamodb")
    denied(lambda: dynamodb.scan(TableName=tables[0]))
    denied(lambda: dynamodb.delete_item(TableName=tables[0], Key=item("k1")))


def test_the_denial_names_the_action_and_the_table(writer_of_a, tables):
    with pytest.raises(ClientError) as caught:
        writer_of_a("dynamodb").scan(TableName=tables[0])
    assert "dynamodb:Scan on resource: " + TABLE_ARN + tables[0] in caught.value.response["Error"]["Message"]


def test_query_on_an_index_needs_the_index_arn(writer_of_a, user_with_policy, tables):
    a, _ = tables
    query = {
        "TableName": a,
        "IndexName": "by-gsi",
        "KeyConditionExpression": "gsi = :g",
        "ExpressionAttributeValues": {":g": {"S": "x"}},
    }
    denied(lambda: writer_of_a("dynamodb").query(**query))
    index_reader = user_with_policy(allow("dynamodb:Query", f"{TABLE_ARN}{a}/index/by-gsi"))
    index_reader("dynamodb").query(**query)


def test_transact_write_of_two_puts_on_the_granted_table_is_allowed(writer_of_a, tables):
    a, _ = tables
    writer_of_a("dynamodb").transact_write_items(TransactItems=[put(a, "t1"), put(a, "t2")])


def test_transact_write_with_one_put_on_another_table_is_denied(writer_of_a, admin, tables):
    a, b = tables
    denied(lambda: writer_of_a("dynamodb").transact_write_items(TransactItems=[put(a, "t3"), put(b, "t3")]))
    assert "Item" not in admin("dynamodb").get_item(TableName=a, Key=item("t3"), ConsistentRead=True)


def test_transact_write_authorizes_each_item_by_its_own_action(writer_of_a, tables):
    a, _ = tables
    delete = {"Delete": {"TableName": a, "Key": item("t1")}}
    denied(lambda: writer_of_a("dynamodb").transact_write_items(TransactItems=[put(a, "t4"), delete]))


def test_transact_get_is_authorized_as_get_item_per_table(writer_of_a, tables):
    a, b = tables
    dynamodb = writer_of_a("dynamodb")
    dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": a, "Key": item("t1")}}])
    denied(lambda: dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": b, "Key": item("t1")}}]))


def test_an_explicit_deny_wins_over_a_wildcard_allow(user_with_policy, tables):
    a, b = tables
    client = user_with_policy(allow("dynamodb:*", "*"), deny("dynamodb:PutItem", TABLE_ARN + a))("dynamodb")
    denied(lambda: client.put_item(TableName=a, Item=item("d1")))
    client.put_item(TableName=b, Item=item("d1"))


def test_a_kms_via_service_condition_does_not_break_the_allowed_calls(user_with_policy, tables):
    a, _ = tables
    client = user_with_policy(
        allow("dynamodb:GetItem", TABLE_ARN + a),
        allow(
            ["kms:Decrypt", "kms:GenerateDataKey"],
            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*",
            Condition={"StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}},
        ),
    )("dynamodb")
    client.get_item(TableName=a, Key=item("k1"))


def test_the_administrator_key_can_do_anything(admin, tables):
    a, b = tables
    for table in (a, b):
        admin("dynamodb").scan(TableName=table)
        admin("dynamodb").delete_item(TableName=table, Key=item("none"))


def test_an_unknown_access_key_is_refused(emulator):
    import boto3

    session = boto3.session.Session(region_name=REGION, aws_access_key_id="nobody", aws_secret_access_key="nothing")
    assert (
        denied(lambda: session.client("dynamodb", endpoint_url=emulator.endpoint).list_tables())
        == "InvalidClientTokenId"
    )


# --------------------------------------------------------------------------- SQS (moto's own check)


def test_send_message_is_allowed_on_the_granted_queue_only(admin, user_with_policy):
    sqs = admin("sqs")
    urls = [sqs.create_queue(QueueName=unique(name))["QueueUrl"] for name in ("queue-a", "queue-b")]
    arn_a = sqs.get_queue_attributes(QueueUrl=urls[0], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sender = user_with_policy(allow("sqs:SendMessage", arn_a))("sqs")
    sender.send_message(QueueUrl=urls[0], MessageBody="audit")
    denied(lambda: sender.send_message(QueueUrl=urls[1], MessageBody="audit"))


# --------------------------------------------------------------------------- SNS


def test_publish_is_allowed_on_the_granted_topic_only(admin, user_with_policy):
    topics = [admin("sns").create_topic(Name=unique(name))["TopicArn"] for name in ("topic-x", "topic-y")]
    publisher = user_with_policy(allow("sns:Publish", topics[0]))("sns")
    publisher.publish(TopicArn=topics[0], Message="event")
    assert denied(lambda: publisher.publish(TopicArn=topics[1], Message="event")) == "AuthorizationError"


# --------------------------------------------------------------------------- Secrets Manager


@pytest.fixture(scope="module")
def secrets(admin) -> tuple[dict[str, str], dict[str, str]]:
    made = []
    for name in (unique("secret-s"), unique("secret-t")):
        arn = admin("secretsmanager").create_secret(Name=name, SecretString="k" * 64)["ARN"]
        made.append({"name": name, "arn": arn})
    return made[0], made[1]


def test_get_secret_value_is_allowed_by_name_and_by_arn_on_the_granted_secret(user_with_policy, secrets):
    s, _ = secrets
    reader = user_with_policy(allow("secretsmanager:GetSecretValue", s["arn"]))("secretsmanager")
    assert reader.get_secret_value(SecretId=s["name"])["SecretString"] == "k" * 64
    assert reader.get_secret_value(SecretId=s["arn"])["ARN"] == s["arn"]


def test_a_partial_secret_arn_is_resolved_to_the_secrets_full_arn(user_with_policy, secrets):
    s, _ = secrets
    reader = user_with_policy(allow("secretsmanager:GetSecretValue", s["arn"]))("secretsmanager")
    partial = s["arn"].rsplit("-", 1)[0]  # without the random suffix AWS appends
    assert reader.get_secret_value(SecretId=partial)["ARN"] == s["arn"]


def test_get_secret_value_is_denied_on_another_secret(user_with_policy, secrets):
    s, t = secrets
    reader = user_with_policy(allow("secretsmanager:GetSecretValue", s["arn"]))("secretsmanager")
    assert denied(lambda: reader.get_secret_value(SecretId=t["name"])) == "AccessDeniedException"
    denied(lambda: reader.get_secret_value(SecretId=t["arn"]))


# --------------------------------------------------------------------------- CloudWatch Logs


@pytest.fixture(scope="module")
def log_groups(admin) -> tuple[str, str]:
    names = f"/aws/lambda/{unique('own')}", f"/aws/lambda/{unique('other')}"
    for name in names:
        admin("logs").create_log_group(logGroupName=name)
    return names


def log_group_arn(name: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


def write_logs(logs: Any, group: str) -> None:
    stream = unique("2026/01/01/[$LATEST]")
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": 1_800_000_000_000, "message": "hi"}]
    )


def test_a_function_writes_to_its_own_log_group(user_with_policy, log_groups):
    own, _ = log_groups
    # As the api plugin grants it: the group's ARN and the group's ARN + ":*".
    logs = user_with_policy(
        allow(["logs:CreateLogStream", "logs:PutLogEvents"], [log_group_arn(own), log_group_arn(own) + ":*"])
    )
    write_logs(logs("logs"), own)


def test_a_function_cannot_write_to_another_log_group(user_with_policy, admin, log_groups):
    own, other = log_groups
    logs = user_with_policy(allow(["logs:CreateLogStream", "logs:PutLogEvents"], log_group_arn(own) + ":*"))("logs")
    assert denied(lambda: logs.create_log_stream(logGroupName=other, logStreamName="s")) == "AccessDeniedException"
    admin("logs").create_log_stream(logGroupName=other, logStreamName="s")
    denied(
        lambda: logs.put_log_events(logGroupName=other, logStreamName="s", logEvents=[{"timestamp": 1, "message": "x"}])
    )


def test_create_log_group_is_evaluated_on_the_group_arn(user_with_policy):
    name = f"/aws/lambda/{unique('new')}"
    logs = user_with_policy(allow("logs:CreateLogGroup", log_group_arn(name)))("logs")
    logs.create_log_group(logGroupName=name)
    denied(lambda: logs.create_log_group(logGroupName=name + "-x"))


# --------------------------------------------------------------------------- resolution (pure)


def params(values: dict[str, Any]) -> Callable[[str], Any]:
    return values.get


def test_transact_write_items_resolves_one_authorization_per_item():
    resolved = dynamodb_authorizations(
        "TransactWriteItems",
        params(
            {"TransactItems": [put("a", "1"), {"ConditionCheck": {"TableName": "b"}}, {"Update": {"TableName": "a"}}]}
        ),
        SCOPE,
    )
    assert resolved == [
        Authorization("dynamodb:PutItem", (TABLE_ARN + "a",)),
        Authorization("dynamodb:ConditionCheckItem", (TABLE_ARN + "b",)),
        Authorization("dynamodb:UpdateItem", (TABLE_ARN + "a",)),
    ]


def test_a_table_arn_given_as_table_name_is_used_as_is():
    arn = "arn:aws:dynamodb:eu-west-1:210987654321:table/x"
    assert dynamodb_authorizations("GetItem", params({"TableName": arn}), SCOPE) == [
        Authorization("dynamodb:GetItem", (arn,))
    ]


def test_put_log_events_resolves_to_the_stream_arn_or_the_group_arn():
    (resolved,) = logs_authorizations("PutLogEvents", params({"logGroupName": "/g", "logStreamName": "s"}), SCOPE)
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/g"
    assert resolved == Authorization("logs:PutLogEvents", (f"{group}:log-stream:s", group))
