"""Payments processed through the acquirer-simulator connector over HTTP on `local up` (issue #28):
each test card ends in its documented status in the POST answer (or 202 processing, then the
status), in GET /status, in its events and in its audit messages; the ledger holds one authorization
per transaction; a retry with the same Idempotency-Key never authorizes again; no PAN or CVC in the
connector's ledger or logs."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from e2e_support import ARCHIVE_WAIT_S, LocalDeployment

from payments_platform.core.deployment_checks import http_request as request
from payments_platform.plugins.api.local_checks import payment_body

pytestmark = pytest.mark.terraform

# card -> (POST status, final status, decline code): runtime/acquirer_simulator.py's table.
TEST_CARDS = {
    "4242424242424242": (201, "authorized", None),
    "4000000000000002": (201, "declined", "generic_decline"),
    "4000000000009995": (201, "declined", "insufficient_funds"),
    "4000000000000069": (201, "declined", "expired_card"),
    "4000000000000127": (201, "declined", "incorrect_cvc"),
    "4000000000000119": (201, "failed", "processing_error"),
    "4000000000007775": (202, "authorized", None),  # answered after the budget: settled by the reconciler
}
CVC = "846"
# The reconciler's minute, its run, and the slow answer the connector still gives.
SETTLE_WAIT_S = 100


class Watch:
    """A queue subscribed to the payment events, and the audit archive (the archiver consumes the
    FIFO audit queue), read as they arrive."""

    def __init__(self, deployment: LocalDeployment) -> None:
        self.sqs, self.s3 = deployment.client("sqs"), deployment.client("s3")
        self.archive = deployment.outputs["audit_archive_bucket_name"]
        self.url, self.subscription = deployment.subscribe_a_queue("connector")
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []

    def events_of(self, transaction_id: str) -> list[tuple[str, str]]:
        while batch := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                self.raw.append(message["Body"])
                self.events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return sorted(
            (e["event_type"], e["event_id"])
            for e in self.events
            if e["transaction"]["transaction_id"] == transaction_id
        )

    def audit_of(self, transaction_id: str, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + ARCHIVE_WAIT_S
        while True:
            listed = self.s3.list_objects_v2(Bucket=self.archive, Prefix="audit/").get("Contents", [])
            keys = [o["Key"] for o in listed if f"/{transaction_id}/" in o["Key"]]
            if len(keys) >= count or time.monotonic() > deadline:
                bodies = [self.s3.get_object(Bucket=self.archive, Key=k)["Body"].read().decode() for k in keys]
                self.raw += bodies
                return [json.loads(body)["message"] for body in bodies]
            time.sleep(0.5)


@pytest.fixture(scope="session")
def paid(deployment: LocalDeployment):
    """One payment per test card, each POST answered -- by a test that starts early on the shared
    deployment (``starts_early``): the slow card's settling by the scheduled reconciler happens
    under the other modules, and the later tests here read it settled."""
    watch = Watch(deployment)
    api_key = sorted(deployment.record.api_keys.values())[0]
    run = uuid.uuid4().hex[:6]
    paid: dict[str, dict[str, Any]] = {}
    for n, card in enumerate(TEST_CARDS):
        key = f"e2e-connector-{run}-{n}"
        body = payment_body(f"e2e-connector-{run}-{n}", pan=card, cvc=CVC)
        headers = {"x-api-key": api_key, "Content-Type": "application/json", "Idempotency-Key": key}
        answer = request("POST", f"{deployment.url}/transactions", headers=headers, body=body)
        paid[card] = {"answer": answer, "body": json.loads(answer.body), "key": key, "request": body}
    yield {"paid": paid, "watch": watch, "api_key": api_key}
    deployment.unsubscribe(watch.subscription)


@pytest.fixture(scope="module")
def payments(deployment: LocalDeployment, paid: dict[str, Any]):
    """The payments, each transaction read until final."""
    api_key = paid["api_key"]
    deadline = time.monotonic() + SETTLE_WAIT_S
    for entry in paid["paid"].values():
        transaction_id = entry["body"]["transaction_id"]
        while True:
            status = request(
                "GET", f"{deployment.url}/status?transaction_id={transaction_id}", headers={"x-api-key": api_key}
            )
            entry["status"] = json.loads(status.body)
            if entry["status"].get("status") != "processing" or time.monotonic() > deadline:
                break
            time.sleep(2)
    return paid


@pytest.mark.starts_early(order=1)
@pytest.mark.parametrize("card", list(TEST_CARDS))
def test_the_post_answers_the_cards_documented_status(paid, card):
    http_status, final, decline_code = TEST_CARDS[card]
    entry = paid["paid"][card]
    assert entry["answer"].status == http_status, entry["answer"].body
    expected = "processing" if http_status == 202 else final
    assert (entry["body"]["status"], entry["body"].get("decline_code")) == (expected, decline_code)


@pytest.mark.parametrize("card", list(TEST_CARDS))
def test_get_status_reads_the_cards_outcome(payments, card):
    _, final, decline_code = TEST_CARDS[card]
    status = payments["paid"][card]["status"]
    assert (status["status"], status.get("decline_code")) == (final, decline_code)
    assert status["acquirer_reference"].startswith("sim_")


@pytest.mark.parametrize("card", list(TEST_CARDS))
def test_each_transition_has_one_event_and_one_audit_message(payments, card):
    _, final, _ = TEST_CARDS[card]
    transaction_id = payments["paid"][card]["body"]["transaction_id"]
    events = payments["watch"].events_of(transaction_id)
    assert sorted(set(events)) == sorted(
        [
            ("payment.transaction.received", transaction_id),
            ("payment.transaction.processing", f"{transaction_id}.processing"),
            (f"payment.transaction.{final}", f"{transaction_id}.{final}"),
        ]
    )
    audit = payments["watch"].audit_of(transaction_id, 3)
    assert sorted(m["type"] for m in audit) == sorted(
        ["transaction.created", "transaction.processing", f"transaction.{final}"]
    )
    assert [m["status"] for m in audit if m["type"] == f"transaction.{final}"] == [final]


def test_a_retry_is_answered_from_what_was_recorded_never_authorized_again(deployment, payments):
    entry = payments["paid"]["4000000000009995"]
    headers = {"x-api-key": payments["api_key"], "Content-Type": "application/json", "Idempotency-Key": entry["key"]}
    retry = request("POST", f"{deployment.url}/transactions", headers=headers, body=entry["request"])
    assert retry.status == 201 and retry.headers.get("idempotent-replayed") == "true"
    assert json.loads(retry.body) == entry["body"]


def test_the_ledger_holds_one_authorization_per_transaction_and_no_card_data(deployment, payments):
    ledger = deployment.client("dynamodb").scan(
        TableName=deployment.outputs["authorization_ledger_table_name"], ConsistentRead=True
    )["Items"]
    ids = {entry["body"]["transaction_id"] for entry in payments["paid"].values()}
    ours = [item for item in ledger if item["idempotency_key"]["S"] in ids]
    assert sorted(item["idempotency_key"]["S"] for item in ours) == sorted(ids)
    assert all(item["recorded_by"]["S"] == "authorize" for item in ours)
    text = json.dumps(ours)
    assert not any(card in text for card in TEST_CARDS) and f'"{CVC}"' not in text


def test_no_pan_or_cvc_in_the_connectors_logs_events_or_audit_messages(deployment, payments):
    logs = deployment.client("logs")
    group = f"/aws/lambda/acquirer-simulator-{deployment.environment.suffix}"
    lines = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert any('"simulator.authorize"' in line for line in lines)
    texts = [*lines, *payments["watch"].raw]
    for card in TEST_CARDS:
        assert not any(card in text for text in texts), "a test PAN in the connector's logs, an event or audit message"
    assert not any(f'"cvc": "{CVC}"' in text or f'"cvc":"{CVC}"' in text for text in texts)
