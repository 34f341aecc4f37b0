"""SQS event source mappings, locally: Lambda's poller for each deployed, enabled mapping.

On AWS, Lambda polls the queue for a function with an SQS event source mapping: it receives up to
``BatchSize`` messages, invokes the function synchronously with them, and deletes the batch when
the function succeeds -- all of it, or, with ``ReportBatchItemFailures``, all but the messages the
function names in ``batchItemFailures``. A function error deletes nothing: the messages come back
after the queue's visibility timeout, and after ``maxReceiveCount`` receives the queue's redrive
policy moves them to the dead-letter queue. The poller signs with the function's execution role
(here its identity): the role must allow ReceiveMessage and DeleteMessage, as on AWS.

Read back from the emulator like the API and the schedules: what is deployed runs. moto stores
the mappings but no longer runs them itself (emulator/moto_event_sources.py).

Not emulated: batching windows, scaling beyond one poller per mapping, filter criteria.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

# Long polling, as Lambda's pollers do; short enough that a stop is prompt.
WAIT_TIME_S = 1
# After an error reaching the queue, before the next receive.
RETRY_DELAY_S = 2.0

Invoke = Callable[[str, bytes, str], Awaitable[bytes]]


@dataclass(frozen=True)
class QueueEventSource:
    uuid: str
    function_name: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool


def read_event_sources(lambda_client: Any, function_names: set[str]) -> list[QueueEventSource]:
    """The enabled SQS event source mappings whose function is one of ours."""
    found = []
    for mapping in _all_mappings(lambda_client):
        arn = mapping.get("EventSourceArn", "")
        function_name = mapping.get("FunctionArn", "").rsplit(":function:", 1)[-1].split(":", 1)[0]
        if not arn.startswith("arn:aws:sqs:") or function_name not in function_names:
            continue
        if mapping.get("State", "Enabled") not in ("Enabled", "Enabling", "Creating", "Updating"):
            continue
        found.append(
            QueueEventSource(
                uuid=mapping["UUID"],
                function_name=function_name,
                queue_arn=arn,
                batch_size=min(int(mapping.get("BatchSize") or 10), 10),
                report_batch_item_failures="ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []),
            )
        )
    return sorted(found, key=lambda s: s.uuid)


def _all_mappings(lambda_client: Any) -> list[dict[str, Any]]:
    mappings, marker = [], None
    while True:
        page = lambda_client.list_event_source_mappings(**({"Marker": marker} if marker else {}))
        mappings += page.get("EventSourceMappings", [])
        marker = page.get("NextMarker")
        if not marker:
            return mappings


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands a function for a batch of SQS messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def processed(messages: list[dict[str, Any]], response: bytes, report_failures: bool) -> list[dict[str, Any]]:
    """The messages Lambda deletes after a successful invoke."""
    if not report_failures:
        return messages
    try:
        failures = json.loads(response or b"null")
    except ValueError:
        return []  # an unreadable partial-batch response fails the whole batch, as on AWS
    if not isinstance(failures, dict) or not failures.get("batchItemFailures"):
        return messages
    failed = {item.get("itemIdentifier") for item in failures["batchItemFailures"] if isinstance(item, dict)}
    return [m for m in messages if m["MessageId"] not in failed]


async def poll(
    source: QueueEventSource,
    sqs: Any,
    queue_url: str,
    region: str,
    invoke: Invoke,
    say: Callable[[str], None],
) -> None:
    """Lambda's poller for one mapping, until cancelled. ``sqs`` signs as the function's role;
    ``queue_url`` is the queue's address (Lambda knows the queue by its ARN, no GetQueueUrl)."""
    last_problem = ""

    def report(problem: str) -> None:
        nonlocal last_problem
        if problem != last_problem:  # once, not every poll
            say(problem)
            last_problem = problem

    while True:
        try:
            received = await asyncio.to_thread(
                sqs.receive_message,
                QueueUrl=queue_url,
                MaxNumberOfMessages=source.batch_size,
                WaitTimeSeconds=WAIT_TIME_S,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except Exception as exc:  # the queue is unreachable or refuses the role: say so, keep polling
            report(f"{source.function_name} ← {source.queue_arn.rsplit(':', 1)[-1]}: cannot receive: {exc}")
            await asyncio.sleep(RETRY_DELAY_S)
            continue
        last_problem = ""
        messages = received.get("Messages", [])
        if not messages:
            continue
        payload = json.dumps(sqs_event(messages, source.queue_arn, region)).encode()
        try:
            trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=1"
            response = await invoke(source.function_name, payload, trace)
        except Exception as exc:  # the batch returns to the queue after its visibility timeout
            say(f"{source.function_name}: batch of {len(messages)} failed ({exc}); left on the queue")
            continue
        done = processed(messages, response, source.report_batch_item_failures)
        for message in done:  # one DeleteMessage each: the permission the role holds (sqs:DeleteMessage)
            try:
                await asyncio.to_thread(sqs.delete_message, QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            except Exception as exc:
                say(f"{source.function_name}: could not delete processed message {message['MessageId']}: {exc}")
