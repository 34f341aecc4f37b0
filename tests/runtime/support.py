"""Builders and AWS fixtures shared by the runtime tests."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import boto3
from moto import mock_aws

from payments_platform.runtime import audit_archive, aws_clients, reconciler, status, transactions

REGION = "eu-west-1"
TABLE_NAME = "payments-test-transactions"
DISPATCH_INDEX_NAME = "dispatch-pending"
FINGERPRINT_KEY_HEX = "3f" * 32
# Well-known scheme test numbers.
VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"

RUNTIME_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "TRANSACTIONS_TABLE_NAME": TABLE_NAME,
    "DISPATCH_INDEX_NAME": DISPATCH_INDEX_NAME,
    "CARD_FINGERPRINT_KEY": FINGERPRINT_KEY_HEX,
    "ENVIRONMENT": "test",
    "LOG_LEVEL": "INFO",
    "AWS_LAMBDA_FUNCTION_NAME": "payments-test-transactions",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
}


ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")


def without_timestamps(text: str) -> str:
    """``text`` with the ISO timestamps a logger or a ledger writes taken out: their digits (the
    microseconds "…819876") may hold any short run a card-data check looks for ("987")."""
    return ISO_TIMESTAMP.sub("<time>", text)


def next_year() -> int:
    return date.today().year + 1


def luhn_complete(partial: str) -> str:
    """``partial`` + the check digit that makes it Luhn-valid."""
    for check in "0123456789":
        candidate = partial + check
        total = 0
        for index, char in enumerate(reversed(candidate)):
            digit = int(char)
            if index % 2:
                digit = digit * 2 - 9 if digit > 4 else digit * 2
            total += digit
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def valid_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": 1250,
        "currency": "EUR",
        "merchant_reference": "order-1001",
        "card": {"number": VISA, "exp_month": 12, "exp_year": next_year(), "cvc": "123"},
    }
    body.update(overrides)
    return body


def api_event(
    body: Any = None,
    *,
    method: str = "POST",
    idempotency_key: str | None = "key-1",
    api_key_id: str | None = "client-a",
    headers: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
    raw_body: str | None = None,
    base64_body: bool = False,
    request_id: str | None = None,
) -> dict[str, Any]:
    all_headers: dict[str, Any] = {"Content-Type": "application/json"}
    if idempotency_key is not None:
        all_headers["Idempotency-Key"] = idempotency_key
    if headers is not None:
        all_headers.update(headers)
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if base64_body and text is not None:
        text = base64.b64encode(text.encode()).decode()
    identity: dict[str, Any] = {"sourceIp": "203.0.113.9"}
    if api_key_id is not None:
        identity["apiKeyId"] = api_key_id
    return {
        "resource": "/transactions" if method == "POST" else "/status",
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "body": text,
        "isBase64Encoded": base64_body,
        "requestContext": {
            # A UUID, as API Gateway's: 16 random hex digits in one run are a Luhn-valid branded PAN
            # about once in 400 (the writers then refuse the request id, a 500 no real event meets).
            "requestId": request_id or str(uuid.uuid4()),
            "identity": identity,
            "stage": "test",
        },
    }


def status_event(
    transaction_id: Any, *, api_key_id: str | None = "client-a", query: dict | None = None
) -> dict[str, Any]:
    return api_event(
        method="GET",
        idempotency_key=None,
        api_key_id=api_key_id,
        query=query if query is not None else {"transaction_id": transaction_id},
    )


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])


class LambdaContext:
    function_name = "payments-test-transactions"
    aws_request_id = "lambda-req-0001"


CONTEXT = LambdaContext()


def create(event: dict[str, Any]) -> dict[str, Any]:
    return transactions.handler(event, CONTEXT)


def read(event: dict[str, Any]) -> dict[str, Any]:
    return status.handler(event, CONTEXT)


@dataclass
class AwsResources:
    dynamodb: Any
    sqs: Any
    sns: Any
    audit_queue_url: str
    topic_arn: str
    topic_tap_url: str

    def table_items(self) -> list[dict[str, Any]]:
        items, start = [], None
        while True:
            kwargs = {"TableName": TABLE_NAME, "ConsistentRead": True}
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = self.dynamodb.scan(**kwargs)
            items += page["Items"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return items

    def transaction_items(self) -> list[dict[str, Any]]:
        return [i for i in self.table_items() if i["record_type"]["S"] == "transaction"]

    def _drain(self, url: str) -> list[dict[str, Any]]:
        messages = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"], VisibilityTimeout=0
            ).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            messages += batch

    def audit_messages(self) -> list[dict[str, Any]]:
        return self._drain(self.audit_queue_url)

    def topic_messages(self) -> list[dict[str, Any]]:
        return self._drain(self.topic_tap_url)


_boto_session: boto3.session.Session | None = None


def _client(service: str) -> Any:
    # One session for all tests: parsing botocore's service models is the slow part of setup.
    global _boto_session
    if _boto_session is None:
        _boto_session = boto3.session.Session(region_name=REGION)
    return _boto_session.client(service, region_name=REGION)


def provision(sqs_fifo_name: str = "payments-test-audit.fifo") -> AwsResources:
    """The table, queue and topic with the settings the storage and messaging plugins synthesize."""
    dynamodb = _client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE_NAME,
        AttributeDefinitions=[
            {"AttributeName": "transaction_id", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
            {"AttributeName": "dispatch_pending", "AttributeType": "S"},
            {"AttributeName": "lease_expires_at", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "transaction_id", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": DISPATCH_INDEX_NAME,
                "KeySchema": [
                    {"AttributeName": "dispatch_pending", "KeyType": "HASH"},
                    {"AttributeName": "lease_expires_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["target_timestamp"]},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )
    sqs = _client("sqs")
    queue_url = sqs.create_queue(
        QueueName=sqs_fifo_name,
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "KmsMasterKeyId": "alias/aws/sqs"},
    )["QueueUrl"]
    sns = _client("sns")
    topic_arn = sns.create_topic(Name="payments-test-events", Attributes={"KmsMasterKeyId": "alias/aws/sns"})[
        "TopicArn"
    ]
    tap_url = sqs.create_queue(QueueName="payments-test-events-tap")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=tap_arn, Attributes={"RawMessageDelivery": "true"})
    return AwsResources(dynamodb, sqs, sns, queue_url, topic_arn, tap_url)


# Captured at import: tests may monkeypatch the module attributes.
_CACHED_BUILDERS = (
    transactions.transaction_creator,
    status.transaction_store,
    audit_archive.archiver,
    reconciler.transaction_reconciler,
)


def reset_runtime_caches() -> None:
    aws_clients.reset_clients()
    for builder in _CACHED_BUILDERS:
        builder.cache_clear()


@contextlib.contextmanager
def aws_environment(monkeypatch) -> Iterator[AwsResources]:
    for name, value in RUNTIME_ENV.items():
        monkeypatch.setenv(name, value)
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SQS",
        "AWS_ENDPOINT_URL_SNS",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        resources = provision()
        monkeypatch.setenv("AUDIT_QUEUE_URL", resources.audit_queue_url)
        monkeypatch.setenv("NOTIFICATIONS_TOPIC_ARN", resources.topic_arn)
        reset_runtime_caches()
        try:
            yield resources
        finally:
            reset_runtime_caches()


_transact_lock = threading.Lock()


@contextlib.contextmanager
def serialized_moto_transactions(monkeypatch) -> Iterator[None]:
    """moto's TransactWriteItems and conditional UpdateItem are check-then-write without a lock, and
    its UpdateItem handler deep-copies the item before the backend's write (another thread's write
    then changes it mid-copy: "dictionary changed size during iteration"); real DynamoDB serializes
    writes to an item. Every DynamoDB request is one step here, so thread tests exercise our code,
    not moto's races."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def locked(self, *args, **kwargs):
        with _transact_lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoHandler, "call_action", locked)
    yield


def fail_once(aws_client: Any, operation: str, code: str, status_code: int = 400, times: int = 1) -> list[int]:
    """Make the next ``times`` calls of ``operation`` (e.g. "sqs.SendMessage") fail with ``code``."""
    from botocore.exceptions import ClientError

    remaining = [times]

    def raise_error(**kwargs):
        if remaining[0] > 0:
            remaining[0] -= 1
            raise ClientError(
                {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status_code}},
                operation.split(".")[1],
            )

    aws_client.meta.events.register(f"before-call.{operation}", raise_error)
    return remaining


def count_calls(*aws_clients_: Any) -> list[str]:
    calls: list[str] = []

    def record(model, **kwargs):
        calls.append(f"{model.service_model.service_name}.{model.name}")

    for aws_client in aws_clients_:
        aws_client.meta.events.register("before-call.*.*", record)
    return calls


class FakeClock:
    def __init__(self, start: float = 1_900_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


def creator_with_clock(aws: AwsResources, clock: FakeClock) -> Any:
    """The handler's transaction creator on a controllable clock (lease expiry without sleeping)."""
    from payments_platform.runtime.dispatch import TransactionDispatcher
    from payments_platform.runtime.fingerprint_keyring import KeyringSource
    from payments_platform.runtime.fingerprint_secret import load_fingerprint_keyring
    from payments_platform.runtime.transaction_creation import TransactionCreator
    from payments_platform.runtime.transaction_store import TransactionStore

    return TransactionCreator(
        store=TransactionStore(aws_clients.client("dynamodb"), TABLE_NAME),
        dispatcher=TransactionDispatcher(
            aws_clients.client("sqs"), aws_clients.client("sns"), aws.audit_queue_url, aws.topic_arn, "test"
        ),
        keyring=KeyringSource(load_fingerprint_keyring, clock),
        clock=clock,
    )
