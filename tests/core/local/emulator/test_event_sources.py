"""SQS event source mappings on the emulator: stored as Lambda stores them, never run by SQS itself
(moto_event_sources.py), and polled by the local Lambda service as Lambda polls
(core/local/lambdafn/event_sources.py) -- against the emulator process, IAM enforced."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from typing import Any

import pytest

from payments_platform.core.local.lambdafn.event_sources import poll, processed, read_event_sources

ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


@pytest.fixture
def mapped_queue(admin) -> dict[str, Any]:
    """A queue with an event source mapping (batch 10, partial batch responses) to a function."""
    name = f"es-{uuid.uuid4().hex[:8]}"
    queue_url = admin("sqs").create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    queue_arn = admin("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    role = admin("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    admin("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": package.getvalue()},
    )
    mapping = admin("lambda").create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=name, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    return {"name": name, "url": queue_url, "arn": queue_arn, "uuid": mapping["UUID"]}


def test_a_message_sent_to_a_mapped_queue_stays_there_for_the_poller(admin, mapped_queue):
    admin("sqs").send_message(QueueUrl=mapped_queue["url"], MessageBody="audit")
    attributes = admin("sqs").get_queue_attributes(QueueUrl=mapped_queue["url"], AttributeNames=["All"])["Attributes"]
    # moto as shipped received it at once for its Docker Lambda, failed, and put it back.
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == (
        "1",
        "0",
    )
    (message,) = admin("sqs").receive_message(QueueUrl=mapped_queue["url"], AttributeNames=["All"])["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"


def test_the_mapping_is_still_listed_as_lambda_stores_it(admin, mapped_queue):
    (source,) = read_event_sources(admin("lambda"), {mapped_queue["name"]})
    assert (source.uuid, source.queue_arn, source.batch_size, source.report_batch_item_failures) == (
        mapped_queue["uuid"],
        mapped_queue["arn"],
        10,
        True,
    )


def test_the_poller_deletes_what_the_function_processed_and_leaves_its_failures(admin, user_with_policy, mapped_queue):
    sqs = admin("sqs")
    ids = [sqs.send_message(QueueUrl=mapped_queue["url"], MessageBody=f"m{n}")["MessageId"] for n in range(3)]
    (source,) = read_event_sources(admin("lambda"), {mapped_queue["name"]})
    role_client = user_with_policy({"Effect": "Allow", "Action": list(CONSUME), "Resource": mapped_queue["arn"]})
    batches: list[dict[str, Any]] = []

    async def invoke(name: str, payload: bytes, trace: str) -> bytes:
        batches.append(json.loads(payload))
        failed = [r["messageId"] for r in batches[-1]["Records"] if r["body"] == "m1"]
        return json.dumps({"batchItemFailures": [{"itemIdentifier": i} for i in failed]}).encode()

    async def scenario() -> None:
        task = asyncio.create_task(
            poll(source, role_client("sqs"), mapped_queue["url"], "us-east-1", invoke, lambda line: None)
        )
        while sum(len(b["Records"]) for b in batches) < 3 or in_flight() != ("0", "1"):
            await asyncio.sleep(0.05)  # the poller deletes after the invoke has answered
        task.cancel()

    def in_flight() -> tuple[str, str]:
        attributes = sqs.get_queue_attributes(QueueUrl=mapped_queue["url"], AttributeNames=["All"])["Attributes"]
        return attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]

    asyncio.run(asyncio.wait_for(scenario(), timeout=20))
    records = [r for b in batches for r in b["Records"]]
    assert sorted(r["messageId"] for r in records) == sorted(ids)
    assert {r["eventSource"] for r in records} == {"aws:sqs"} and {r["eventSourceARN"] for r in records} == {
        mapped_queue["arn"]
    }
    # m0 and m2 deleted; m1 (reported failed) in flight until its visibility timeout.
    assert in_flight() == ("0", "1")


def test_a_function_error_deletes_nothing_and_an_unreadable_partial_response_fails_the_batch():
    messages = [{"MessageId": "a"}, {"MessageId": "b"}]
    assert processed(messages, b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', True) == [messages[0]]
    assert processed(messages, b"not json", True) == []
    assert processed(messages, b"null", True) == messages  # no failures reported: all processed
    assert processed(messages, b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', False) == messages
