"""Faults injected into the emulator's AWS calls: botocore sees each error exactly as AWS would
answer it (code, status, protocol), a fail-after-success commits the write, a stall delays, counts
and matching hold, and every hit is logged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from payments_platform.core.local.faults import FaultRule, add_fault, clear_faults, read_hits
from payments_platform.core.testing.emulator import RunningEmulator

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def run_dir(emulator: RunningEmulator) -> Iterator[Path]:
    """The emulator's run directory (its ready file's): where its fault rules live."""
    directory = emulator.log_file.parent
    yield directory
    clear_faults(directory)


@pytest.fixture
def client(emulator: RunningEmulator) -> Any:
    session = emulator.admin_session("us-east-1")
    return lambda service, config=NO_RETRIES: session.client(service, endpoint_url=emulator.endpoint, config=config)


@pytest.fixture
def table(client) -> str:
    name = f"faults-{time.monotonic_ns()}"
    client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _put(table: str, key: str) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": {"id": {"S": key}}, "ConditionExpression": "attribute_not_exists(id)"}}


def test_a_throttling_fault_fails_the_named_call_without_performing_it(run_dir, client, table):
    rule = add_fault(run_dir, FaultRule("error", "dynamodb", "TransactWriteItems", resource=table, error="throttling"))
    dynamodb = client("dynamodb")
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[_put(table, "a")])
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"id": {"S": "a"}})
    [hit] = read_hits(run_dir)[-1:]
    assert (hit["fault"], hit["action"], hit["resource"]) == (rule.id, "TransactWriteItems", table)


def test_fail_after_success_commits_the_write_and_the_caller_sees_a_5xx(run_dir, client, table):
    add_fault(run_dir, FaultRule("error_after", "dynamodb", "TransactWriteItems", error="internal", count=1))
    dynamodb = client("dynamodb")
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[_put(table, "b")])
    assert raised.value.response["Error"]["Code"] == "InternalServerError"
    assert dynamodb.get_item(TableName=table, Key={"id": {"S": "b"}})["Item"] == {"id": {"S": "b"}}


def test_fail_after_success_with_a_delay_is_a_read_timeout_after_the_commit(run_dir, client, table):
    add_fault(run_dir, FaultRule("error_after", "dynamodb", "PutItem", error="internal", delay_ms=1500, count=1))
    impatient = client("dynamodb", Config(read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 1}))
    with pytest.raises(ReadTimeoutError):
        impatient.put_item(TableName=table, Item={"id": {"S": "c"}})
    assert "Item" in client("dynamodb").get_item(TableName=table, Key={"id": {"S": "c"}})


def test_a_count_limits_the_hits_and_other_actions_pass(run_dir, client, table):
    add_fault(run_dir, FaultRule("error", "dynamodb", "PutItem", error="internal", count=2))
    dynamodb = client("dynamodb")
    for _ in range(2):
        with pytest.raises(ClientError):
            dynamodb.put_item(TableName=table, Item={"id": {"S": "d"}})
    dynamodb.put_item(TableName=table, Item={"id": {"S": "d"}})
    dynamodb.get_item(TableName=table, Key={"id": {"S": "d"}})  # GetItem never matched


def test_contains_matches_on_the_request_body(run_dir, client, table):
    add_fault(run_dir, FaultRule("error", "dynamodb", "UpdateItem", contains="REMOVE gone", error="internal"))
    dynamodb = client("dynamodb")
    dynamodb.update_item(
        TableName=table,
        Key={"id": {"S": "e"}},
        UpdateExpression="SET x = :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    with pytest.raises(ClientError):
        dynamodb.update_item(TableName=table, Key={"id": {"S": "e"}}, UpdateExpression="REMOVE gone")


def test_a_stall_delays_the_call_and_then_performs_it(run_dir, client, table):
    add_fault(run_dir, FaultRule("stall", "dynamodb", "PutItem", delay_ms=600, count=1))
    started = time.perf_counter()
    client("dynamodb").put_item(TableName=table, Item={"id": {"S": "f"}})
    assert time.perf_counter() - started >= 0.6


def test_sqs_and_sns_errors_arrive_in_their_own_protocols(run_dir, client):
    queue = client("sqs").create_queue(QueueName=f"faults-{time.monotonic_ns()}")["QueueUrl"]
    topic = client("sns").create_topic(Name=f"faults-{time.monotonic_ns()}")["TopicArn"]
    add_fault(run_dir, FaultRule("error", "sqs", "SendMessage", resource=queue, error="access-denied"))
    add_fault(run_dir, FaultRule("error", "sns", "Publish", resource=topic, error="throttling"))
    with pytest.raises(ClientError) as sent:
        client("sqs").send_message(QueueUrl=queue, MessageBody="x")
    with pytest.raises(ClientError) as published:
        client("sns").publish(TopicArn=topic, Message="x")
    assert sent.value.response["Error"]["Code"] == "AccessDenied"
    assert published.value.response["Error"]["Code"] == "Throttled"
    assert client("sqs").receive_message(QueueUrl=queue).get("Messages") is None


def test_cleared_rules_stop_applying(run_dir, client, table):
    add_fault(run_dir, FaultRule("error", "dynamodb", "PutItem", error="internal"))
    clear_faults(run_dir)
    client("dynamodb").put_item(TableName=table, Item={"id": {"S": "g"}})


def test_without_rules_a_call_passes_as_it_came_and_a_rule_added_later_applies(tmp_path):
    import io

    from payments_platform.core.local.emulator.fault_injection import FaultInjectingApp
    from payments_platform.core.local.faults import FaultBook

    seen: list[Any] = []

    def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["wsgi.input"])
        start_response("200 OK", [])
        return [b"{}"]

    app = FaultInjectingApp(moto, FaultBook(tmp_path))
    body = b'{"TableName": "t"}'

    def call() -> str:
        statuses: list[str] = []
        environ = {
            "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261206/us-east-1/dynamodb/aws4_request",
            "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        app(environ, lambda status, _headers: statuses.append(status))
        return statuses[0] if statuses else "no answer"

    stream = io.BytesIO(body)
    app({"wsgi.input": stream, "CONTENT_LENGTH": str(len(body))}, lambda *_: None)
    assert seen[-1] is stream and stream.tell() == 0, "no rules: the body is moto's to read, untouched"
    assert call() == "200 OK"
    add_fault(tmp_path, FaultRule("error", "dynamodb", "PutItem", error="internal"))
    assert call().startswith("500"), "a rule written while serving applies to the next call"
    assert len(seen) == 2
