"""The emulator's performance patches (core/local/emulator/moto_performance.py) keep moto's results:
transactions still roll back, queries still return the partition in key order, queue counts are
still right. Speed itself is measured in benchmarks/emulator_bench.py, not here."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def key(pk: str, sk: int = 0) -> dict:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


@pytest.fixture(scope="module")
def table(admin) -> str:
    name = unique("perf")
    admin("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def stored(admin, table: str, item_key: dict) -> dict | None:
    return admin("dynamodb").get_item(TableName=table, Key=item_key, ConsistentRead=True).get("Item")


def cancelled(call) -> list[str]:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    return [reason["Code"] for reason in caught.value.response["CancellationReasons"]]


def test_a_cancelled_transaction_leaves_no_item_it_put(admin, table):
    existing = {**key("taken"), "v": {"S": "original"}}
    admin("dynamodb").put_item(TableName=table, Item=existing)
    reasons = cancelled(
        lambda: admin("dynamodb").transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**key("new"), "v": {"S": "x"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {**key("taken"), "v": {"S": "y"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    )
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert stored(admin, table, key("new")) is None
    assert stored(admin, table, key("taken")) == existing


def test_a_cancelled_transaction_restores_what_it_updated_and_deleted(admin, table):
    dynamodb = admin("dynamodb")
    dynamodb.put_item(TableName=table, Item={**key("counter"), "n": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={**key("doomed"), "v": {"S": "keep"}})
    cancelled(
        lambda: dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": key("counter"),
                        "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "2"}},
                    }
                },
                {"Delete": {"TableName": table, "Key": key("doomed")}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key("absent"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    )
    assert stored(admin, table, key("counter"))["n"] == {"N": "1"}
    assert stored(admin, table, key("doomed"))["v"] == {"S": "keep"}


def test_a_committed_transaction_writes_every_item(admin, table):
    admin("dynamodb").transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": key("both", 1)}},
            {"Put": {"TableName": table, "Item": key("both", 2)}},
        ]
    )
    assert stored(admin, table, key("both", 1)) and stored(admin, table, key("both", 2))


def test_query_returns_only_the_partition_in_key_order(admin, table):
    dynamodb = admin("dynamodb")
    for sk in (3, 1, 2):
        dynamodb.put_item(TableName=table, Item=key("ordered", sk))
    dynamodb.put_item(TableName=table, Item=key("ordered-not", 0))
    query = {
        "TableName": table,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "ordered"}},
    }
    assert [i["sk"]["N"] for i in dynamodb.query(**query)["Items"]] == ["1", "2", "3"]
    assert [i["sk"]["N"] for i in dynamodb.query(**query, ScanIndexForward=False, Limit=1)["Items"]] == ["3"]
    assert dynamodb.query(**{**query, "ExpressionAttributeValues": {":p": {"S": "nobody"}}})["Items"] == []


def test_queue_counts_visible_in_flight_and_delayed_messages(admin):
    sqs = admin("sqs")
    url = sqs.create_queue(QueueName=unique("counts"))["QueueUrl"]
    for _ in range(3):
        sqs.send_message(QueueUrl=url, MessageBody="m")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        counts["ApproximateNumberOfMessages"],
        counts["ApproximateNumberOfMessagesNotVisible"],
        counts["ApproximateNumberOfMessagesDelayed"],
    ) == ("2", "1", "1")
