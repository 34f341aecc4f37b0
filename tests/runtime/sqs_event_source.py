"""Plays Lambda's SQS event source mapping against moto: receive a batch, hand it to the handler
as an SQS event, delete what the handler did not report in ``batchItemFailures``, and let the
failures become visible again (Lambda waits for the visibility timeout; here it is cut to 0)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FAILED_AGAIN_NOW = 0


@dataclass
class EventSource:
    sqs: Any
    queue_url: str
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    batch_size: int = 10
    region: str = "eu-west-1"

    @property
    def queue_arn(self) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def record(self, message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": self.region,
        }

    def poll(self, *, delete: bool = True) -> dict[str, Any] | None:
        """One batch; ``delete=False`` plays an invocation whose result was lost (a timeout after
        the writes), so every message of the batch is delivered again."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size, AttributeNames=["All"], VisibilityTimeout=30
        ).get("Messages", [])
        if not messages:
            return None
        arn = self.queue_arn
        response = self.handler({"Records": [self.record(m, arn) for m in messages]}, None)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:
            if delete and message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=FAILED_AGAIN_NOW
                )
        return response

    def drain(self, max_polls: int = 50) -> list[dict[str, Any]]:
        responses = []
        for _ in range(max_polls):
            response = self.poll()
            if response is None:
                return responses
            responses.append(response)
        raise AssertionError(f"the queue still delivers after {max_polls} polls")
