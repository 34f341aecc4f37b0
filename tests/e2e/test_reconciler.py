"""The reconciler on the deployment: scheduled every minute, and, under its own function identity
(exactly its deployed role's policies, IAM enforced), completing a dispatch a crash left behind."""

from __future__ import annotations

import time

import pytest
from e2e_support import REGION, LocalDeployment, archived_audit_messages

from payments_platform.runtime import aws_clients, reconciler
from payments_platform.runtime.idempotency import DispatchState, IdempotencyRecord
from payments_platform.runtime.transaction_records import Transaction, idempotency_item, new_transaction_id

pytestmark = pytest.mark.terraform


def reconciler_name(deployment: LocalDeployment) -> str:
    return f"transaction-reconciler-{deployment.environment.suffix}"


def test_the_reconciler_is_scheduled_every_minute(deployment: LocalDeployment):
    schedule = deployment.client("scheduler").get_schedule(Name=reconciler_name(deployment))
    assert schedule["ScheduleExpression"] == "rate(1 minute)" and schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"].endswith(f":function:{reconciler_name(deployment)}")


def strand_a_transaction(deployment: LocalDeployment) -> tuple[str, str]:
    """What a crash right after the DynamoDB write leaves: both items, nothing dispatched."""
    now_ms = int(time.time() * 1000) - 60_000
    transaction = Transaction(
        transaction_id=new_transaction_id(),
        created_at_ms=now_ms,
        client_id="apikey:e2e-reconciler",
        status="received",
        amount=990,
        currency="EUR",
        merchant_reference="e2e-stranded",
        card_brand="visa",
        card_last4="4242",
        card_fingerprint="cfp_e2e",
        idempotency_record_id="idem_e2e_" + str(now_ms),
    )
    record = IdempotencyRecord(
        record_id=transaction.idempotency_record_id,
        client_id=transaction.client_id,
        request_fingerprint="e2e",
        transaction_id=transaction.transaction_id,
        transaction_timestamp=now_ms,
        dispatch_state=DispatchState.DISPATCHING,
        audit_sent=False,
        event_published=False,
        lease_expires_at_ms=now_ms + 30_000,
        response_body="{}",
        request_id="req-e2e-crashed",
    )
    dynamodb = deployment.client("dynamodb")
    table = deployment.outputs["transactions_table_name"]
    dynamodb.put_item(TableName=table, Item=transaction.to_item())
    dynamodb.put_item(TableName=table, Item=idempotency_item(record, now_ms))
    return transaction.transaction_id, record.record_id


def test_the_reconciler_completes_a_stranded_dispatch_under_its_own_identity(deployment: LocalDeployment, monkeypatch):
    transaction_id, record_id = strand_a_transaction(deployment)
    name = reconciler_name(deployment)
    [spec] = [f for f in deployment.gateway_spec["functions"] if f["name"] == name]
    for variable, value in {**spec["environment"], **deployment.gateway_spec["credentials"][name]}.items():
        monkeypatch.setenv(variable, value)
    for variable, value in {
        "AWS_ENDPOINT_URL": deployment.endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    # A session of its own: botocore's session keeps the credentials it first resolved (an earlier
    # test's, e.g. tests/core/local/emulator's "testing" keys, which run before e2e now).
    monkeypatch.setattr(aws_clients, "_session", None)
    aws_clients.reset_clients()
    reconciler.transaction_reconciler.cache_clear()
    try:
        summary = reconciler.handler({"source": "aws.scheduler"}, None)
    finally:
        aws_clients.reset_clients()
        reconciler.transaction_reconciler.cache_clear()
    # The local schedule may have run it first: either way it is complete, and nothing was denied.
    assert summary["failed"] == 0 and summary["quarantined"] == 0
    item = deployment.client("dynamodb").get_item(
        TableName=deployment.outputs["transactions_table_name"],
        Key={"transaction_id": {"S": record_id}, "timestamp": {"N": "0"}},
        ConsistentRead=True,
    )["Item"]
    assert item["dispatch_state"]["S"] == "complete" and "dispatch_pending" not in item

    # The archiver reads the audit queue (its event source mapping): the message is in the archive.
    audit = archived_audit_messages(deployment, transaction_id)
    [message] = [a for a in audit if a.get("transaction_id") == transaction_id]
    assert message["request_id"] == "req-e2e-crashed"
