"""The audit archiver (runtime/audit_archive.py) against moto: real audit messages from the
transactions handler, a FIFO queue with a FIFO dead-letter queue, a versioned CMK bucket, and
Lambda's event source mapping played by tests/runtime/sqs_event_source.py."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from payments_platform.runtime import audit_archive
from payments_platform.runtime.audit_archive import AuditArchiver, PoisonMessage, archive_object
from payments_platform.runtime.redaction import contains_card_data

from .sqs_event_source import EventSource
from .support import (
    AMEX,
    MASTERCARD,
    REGION,
    VISA,
    api_event,
    create,
    fail_once,
    next_year,
    reset_runtime_caches,
    valid_body,
    without_timestamps,
)

BUCKET = "payments-test-audit-archive"
MAX_RECEIVE_COUNT = 3
CARDS = (VISA, MASTERCARD, AMEX)
CVC = "737"


@pytest.fixture
def archive(aws, monkeypatch) -> dict[str, Any]:
    """The archive bucket and dead-letter queue as the audit plugin synthesizes them."""
    kms_key_arn = boto3.client("kms", region_name=REGION).create_key(Description="platform key")["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_arn}}
            ]
        },
    )
    dlq_url = aws.sqs.create_queue(QueueName="payments-test-audit-dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    dlq_arn = aws.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.sqs.set_queue_attributes(
        QueueUrl=aws.audit_queue_url,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
        },
    )
    monkeypatch.setenv("ARCHIVE_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("ARCHIVE_KMS_KEY_ARN", kms_key_arn)
    reset_runtime_caches()
    return {"s3": s3, "dlq_url": dlq_url, "kms_key_arn": kms_key_arn}


def _create_transactions(count: int) -> list[str]:
    """``count`` transactions through POST /transactions, from three clients (three message groups)."""
    ids = []
    for index in range(count):
        card = CARDS[index % 3]
        cvc = CVC + "3" if card == AMEX else CVC  # Amex codes have four digits
        body = valid_body(card={"number": card, "exp_month": 12, "exp_year": next_year(), "cvc": cvc})
        response = create(api_event(body, idempotency_key=f"key-{index}", api_key_id=f"client-{index % 3}"))
        assert response["statusCode"] == 201, response
        ids.append(json.loads(response["body"])["transaction_id"])
    return ids


def _send_poison(aws) -> None:
    for group, body in (
        ("poison-a", "not json {"),
        ("poison-b", '{"type": "transaction.created"}'),
        ("poison-c", "[1, 2]"),
    ):
        aws.sqs.send_message(QueueUrl=aws.audit_queue_url, MessageBody=body, MessageGroupId=group)


def _versions(s3) -> list[dict[str, Any]]:
    return s3.list_object_versions(Bucket=BUCKET).get("Versions", [])


def _bodies(s3) -> list[str]:
    return [
        s3.get_object(Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])["Body"].read().decode()
        for v in _versions(s3)
    ]


def _drain(sqs, url: str) -> list[dict[str, Any]]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])


def _archive_with_poison_and_redelivery(aws) -> list[str]:
    ids = _create_transactions(12)
    _send_poison(aws)
    source = EventSource(aws.sqs, aws.audit_queue_url, audit_archive.handler)
    source.poll(delete=False)  # the first batch's result is lost: every message of it comes again
    source.drain()
    return ids


def test_every_audit_message_lands_exactly_once_despite_poison_and_redelivery(aws, archive):
    ids = _archive_with_poison_and_redelivery(aws)

    versions = _versions(archive["s3"])
    archived_ids = sorted(json.loads(body)["message"]["transaction_id"] for body in _bodies(archive["s3"]))
    assert archived_ids == sorted(ids)  # each once: no second version of a redelivered message
    assert len({v["Key"] for v in versions}) == len(versions) == 12


def test_poison_messages_end_in_the_dead_letter_queue_and_nowhere_else(aws, archive):
    _archive_with_poison_and_redelivery(aws)

    dead = sorted(m["Body"] for m in _drain(aws.sqs, archive["dlq_url"]))
    assert dead == sorted(["not json {", '{"type": "transaction.created"}', "[1, 2]"])
    assert _drain(aws.sqs, aws.audit_queue_url) == []


def test_archived_objects_hold_no_card_number_or_cvc(aws, archive):
    _archive_with_poison_and_redelivery(aws)

    bodies = _bodies(archive["s3"])
    assert len(bodies) == 12
    for body in bodies:
        # The one policy, which reads the request and message ids (UUIDs) as ids: the masking's
        # digit-run detector finds a Luhn-valid "PAN" across a uuid4's hyphens once in ~250
        # (24 ids here: one run in ten failed).
        assert not contains_card_data(body)
        assert not any(card in body for card in CARDS)
        message = json.loads(body)["message"]
        assert not contains_card_data(json.dumps(message)) and set(message["card"]) == {"brand", "last4"}


def test_object_keys_are_dated_and_name_the_transaction(aws, archive):
    ids = _archive_with_poison_and_redelivery(aws)

    for version in _versions(archive["s3"]):
        prefix, year, month, day, transaction_id, name = version["Key"].split("/")
        assert (prefix, len(year), len(month), len(day)) == ("audit", 4, 2, 2)
        assert transaction_id in ids and name.startswith("transaction.created-") and name.endswith(".json")


def test_objects_are_written_with_the_platform_key(aws, archive):
    _archive_with_poison_and_redelivery(aws)

    for version in _versions(archive["s3"]):
        head = archive["s3"].head_object(Bucket=BUCKET, Key=version["Key"])
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", archive["kms_key_arn"])


def test_card_data_a_sender_put_in_an_audit_message_is_masked_in_the_archive(aws, archive, capsys):
    leaked = {
        "type": "transaction.created",
        "transaction_id": "txn_leaky",
        "created_at": "2026-11-26T10:00:00.000Z",
        "card": {"number": VISA, "cvc": CVC},
        "note": f"card {MASTERCARD} cvc {CVC}",
    }
    aws.sqs.send_message(QueueUrl=aws.audit_queue_url, MessageBody=json.dumps(leaked), MessageGroupId="g")

    EventSource(aws.sqs, aws.audit_queue_url, audit_archive.handler).drain()

    (body,) = _bodies(archive["s3"])
    assert not contains_card_data(body) and VISA not in body and MASTERCARD not in body
    assert json.loads(body)["message"]["card"]["cvc"] == "[REDACTED]"
    logged = capsys.readouterr().out
    assert "audit_message_card_data_masked" in logged and VISA not in logged and MASTERCARD not in logged


def test_a_rejected_message_is_logged_by_id_and_reason_without_its_content(aws, archive, capsys):
    aws.sqs.send_message(QueueUrl=aws.audit_queue_url, MessageBody=f"{VISA} not json", MessageGroupId="g")

    response = EventSource(aws.sqs, aws.audit_queue_url, audit_archive.handler).poll()

    assert len(response["batchItemFailures"]) == 1
    (line,) = [json.loads(entry) for entry in capsys.readouterr().out.splitlines() if "audit_message_rejected" in entry]
    assert line["reason"] == "invalid_json" and line["message_id"] == response["batchItemFailures"][0]["itemIdentifier"]
    assert VISA not in json.dumps(line) and "not json" not in json.dumps(line)


def test_a_failed_write_returns_the_rest_of_its_message_group_unprocessed(aws, archive):
    records = [
        _record("txn_a1", "group-a", "m1"),
        _record("txn_a2", "group-a", "m2"),
        _record("txn_b1", "group-b", "m3"),
    ]
    s3 = boto3.client("s3", region_name=REGION)
    fail_once(s3, "s3.PutObject", "InternalError", status_code=500)

    result = AuditArchiver(s3, BUCKET, archive["kms_key_arn"]).archive_batch(records)

    assert result.response() == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert [v["Key"].split("/")[4] for v in _versions(archive["s3"])] == ["txn_b1"]


def _record(transaction_id: str, group: str, message_id: str, **body_overrides: Any) -> dict[str, Any]:
    body = {"type": "transaction.created", "transaction_id": transaction_id, "created_at": "2026-11-26T10:00:00.000Z"}
    body.update(body_overrides)
    return {
        "messageId": message_id,
        "body": json.dumps(body),
        "attributes": {"MessageGroupId": group, "MessageDeduplicationId": transaction_id},
    }


@pytest.mark.parametrize(
    "body, reason",
    [
        ("not json", "invalid_json"),
        ("", "invalid_json"),
        ('"a string"', "not_an_object"),
        ('{"transaction_id": "txn_1", "created_at": "2026-11-26T10:00:00Z"}', "missing_type"),
        ('{"type": "transaction.created", "created_at": "2026-11-26T10:00:00Z"}', "missing_transaction_id"),
        ('{"type": "transaction.created", "transaction_id": "txn_1"}', "missing_created_at"),
        (
            '{"type": "transaction.created", "transaction_id": "../../etc", "created_at": "2026-11-26T10:00:00Z"}',
            "invalid_transaction_id",
        ),
        (
            '{"type": "transaction.created", "transaction_id": 7, "created_at": "2026-11-26T10:00:00Z"}',
            "invalid_transaction_id",
        ),
        ('{"type": "Created/../x", "transaction_id": "txn_1", "created_at": "2026-11-26T10:00:00Z"}', "invalid_type"),
        ('{"type": "transaction.created", "transaction_id": "txn_1", "created_at": "yesterday"}', "invalid_created_at"),
        (
            '{"type": "transaction.created", "transaction_id": "txn_1", "created_at": "2026-11-26T10:00:00"}',
            "invalid_created_at",
        ),
    ],
)
def test_a_malformed_message_is_poison_with_a_fixed_reason(body, reason):
    with pytest.raises(PoisonMessage) as raised:
        archive_object({"messageId": "m", "body": body, "attributes": {}})
    assert raised.value.reason == reason


def test_a_redelivered_message_maps_to_the_same_object():
    first = _record("txn_1", "g", "message-1")
    again = {**first, "messageId": "message-1", "attributes": {**first["attributes"], "ApproximateReceiveCount": "2"}}
    assert archive_object(first) == archive_object(again)


def test_the_object_is_dated_by_the_transaction_in_utc():
    record = _record("txn_1", "g", "m", created_at="2026-12-31T23:30:00-02:00")
    assert archive_object(record).key.startswith("audit/2027/01/01/txn_1/transaction.created-")


def test_card_data_the_masking_misses_is_not_written_to_the_archive(aws, archive, capsys):
    """The writer's own refusal (record_codec.refuse_card_data): a PAN with dots between its groups
    is not what the masking recognises, so the archiver refuses the object and names the field."""
    leaked = {
        "type": "transaction.created",
        "transaction_id": "txn_leaky",
        "created_at": "2026-11-26T10:00:00.000Z",
        "merchant_reference": "4000.0566.5566.5556",
    }
    aws.sqs.send_message(QueueUrl=aws.audit_queue_url, MessageBody=json.dumps(leaked), MessageGroupId="g")

    response = EventSource(aws.sqs, aws.audit_queue_url, audit_archive.handler).poll()

    assert len(response["batchItemFailures"]) == 1
    assert _versions(archive["s3"]) == []
    logged = capsys.readouterr().out
    (line,) = [json.loads(entry) for entry in logged.splitlines() if "audit_archive_refused_card_data" in entry]
    assert line["field"] == "archive_object.message.merchant_reference"
    assert "0566" not in without_timestamps(logged)
