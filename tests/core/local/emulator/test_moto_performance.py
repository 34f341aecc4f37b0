"""The emulator's performance patches (core/local/emulator/moto_performance.py) keep moto's results:
transactions still roll back, queries still return the partition in key order, queue counts are
still right, requests reach the backend moto's own lookup names, update expressions still apply
their own values. Speed itself is measured in benchmarks/emulator_bench.py and
benchmarks/emulator_cpu.py, not here. The in-process tests call a patch's replacement directly:
this process's moto stays unpatched (test_patch_installation.py)."""

from __future__ import annotations

import inspect
import uuid

import pytest
from botocore.exceptions import ClientError
from moto import backends
from moto.core import responses as moto_responses
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from payments_platform.core.local.emulator import moto_performance

# The signing names of what the platform deploys and its functions call (Terraform, the runtime,
# the local gateway's Lambda service), plus the paths moto routes by path.
PLATFORM_SERVICES = (
    "apigateway", "backup", "cloudtrail", "dynamodb", "ec2", "events", "iam", "kms", "lambda", "logs",
    "monitoring", "s3", "scheduler", "secretsmanager", "sns", "sqs", "ssm", "sts", "wafv2", "xray",
)  # fmt: skip


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


def signed_environ(service: str) -> dict:
    environ = {
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261206/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0",
        "PATH_INFO": "/",
        "HTTP_HOST": "127.0.0.1:5000",
    }
    if service == "dynamodb":
        environ["HTTP_X_AMZ_TARGET"] = "DynamoDB_20120810.PutItem"
    return environ


def test_the_memoized_host_lookup_names_the_backend_moto_names_and_lists_moto_once_per_host(monkeypatch):
    original = DomainDispatcherApplication.get_backend_for_host
    memoized = moto_performance.server_backend_for_host(original)
    dispatcher = DomainDispatcherApplication(create_backend_app)
    hosts = [dispatcher.infer_service_region_host(signed_environ(s), "/") for s in PLATFORM_SERVICES]
    hosts += ["moto_api", "instance_metadata", "s3.us-east-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com"]
    expected = {host: original(dispatcher, host) for host in hosts}
    assert all(expected.values()), {h: b for h, b in expected.items() if not b}

    listings = []
    listing = backends.list_of_moto_modules
    monkeypatch.setattr(backends, "list_of_moto_modules", lambda: listings.append(1) or listing())
    assert {host: memoized(dispatcher, host) for host in hosts} == expected
    first = len(listings)
    assert {host: memoized(dispatcher, host) for host in hosts} == expected
    assert len(listings) == first, "a known host was looked up again"


def test_an_unknown_host_takes_moto_s_own_path_every_time(capsys):
    original = DomainDispatcherApplication.get_backend_for_host
    memoized = moto_performance.server_backend_for_host(original)
    dispatcher = DomainDispatcherApplication(create_backend_app)
    for host in ("nothing.example", "nosuchservice.us-east-1.amazonaws.com", None):
        assert original(dispatcher, host) is None
        assert memoized(dispatcher, host) is None
        assert memoized(dispatcher, host) is None
    # moto's warning for an unknown AWS host, once per lookup: 1 (moto's) + 2 (memoized)
    assert capsys.readouterr().out.count("Unable to find appropriate backend for nosuchservice") == 3
    assert None not in vars(dispatcher).get("_payments_backend_for_host", {})


def test_the_action_lookup_gives_moto_s_answers_without_listing_the_class_again(monkeypatch):
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    camel, method_names = moto_performance.response_action_lookup(
        moto_responses.camelcase_to_underscores, moto_responses.method_names_from_class
    )
    for action in ("TransactWriteItems", "SendMessage", "GetQueueAttributes", "ListTagsForResource", ""):
        assert camel(action) == moto_responses.camelcase_to_underscores(action)
    for handler in (DynamoHandler, SQSResponse):
        assert method_names(handler) == moto_responses.method_names_from_class(handler)
    monkeypatch.setattr(inspect, "getmembers", lambda *_a, **_k: pytest.fail("listed again"))
    assert "transact_write_items" in method_names(DynamoHandler)


def test_update_expressions_parse_once_and_each_item_gets_its_own_values(admin, table):
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    parser = moto_performance.dynamodb_update_expression_models(UpdateExpressionParser)
    assert parser.make("SET n = :n") is parser.make("SET n = :n")
    dynamodb = admin("dynamodb")
    for number in range(3):  # the same expression three times: the shared tree is never written to
        dynamodb.update_item(
            TableName=table,
            Key=key("expr", number),
            UpdateExpression="SET n = :n, tag = :t",
            ExpressionAttributeValues={":n": {"N": str(number)}, ":t": {"S": f"t{number}"}},
        )
    assert [(stored(admin, table, key("expr", n)) or {}).get("tag") for n in range(3)] == [
        {"S": "t0"},
        {"S": "t1"},
        {"S": "t2"},
    ]
    for _ in range(2):  # an expression that does not parse is refused every time, as moto refuses it
        with pytest.raises(ClientError, match="Invalid UpdateExpression"):
            dynamodb.update_item(TableName=table, Key=key("expr", 9), UpdateExpression="SET = :n")
