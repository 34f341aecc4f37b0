"""Every failure path of a payment, made by faults injected into real requests on the deployment
(core/local/faults.py) -- never by writing the state a failure would leave -- and converged by the
client's retry or by the reconciler the deployed schedule runs every minute."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from e2e_support import ARCHIVE_WAIT_S, LocalDeployment

from payments_platform.core.deployment_checks import http_request as request
from payments_platform.core.local.faults import FUNCTION_SERVICE, FaultRule, add_fault, clear_faults, read_hits
from payments_platform.plugins.api.local_checks import payment_body
from payments_platform.runtime.redaction import contains_card_data

pytestmark = pytest.mark.terraform
# The schedule's minute, the processor's lease (its 10 s timeout + 1 s) and the run itself.
RECONCILER_WAIT_S = 100


def reconciler_name(deployment: LocalDeployment) -> str:
    return f"transaction-reconciler-{deployment.environment.suffix}"


def processor_name(deployment: LocalDeployment) -> str:
    return f"transaction-processor-{deployment.environment.suffix}"


def test_the_reconciler_is_scheduled_every_minute(deployment: LocalDeployment):
    schedule = deployment.client("scheduler").get_schedule(Name=reconciler_name(deployment))
    assert schedule["ScheduleExpression"] == "rate(1 minute)" and schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"].endswith(f":function:{reconciler_name(deployment)}")


def pay(deployment: LocalDeployment, key: str, reference: str) -> Any:
    api_key = sorted(deployment.record.api_keys.values())[0]
    return request(
        "POST",
        f"{deployment.url}/transactions",
        headers={"x-api-key": api_key, "Content-Type": "application/json", "Idempotency-Key": key},
        body=payment_body(reference),
    )


def record_of(deployment: LocalDeployment, transaction_id: str) -> dict[str, Any]:
    dynamodb = deployment.client("dynamodb")
    table = deployment.outputs["transactions_table_name"]
    [transaction] = dynamodb.query(
        TableName=table,
        KeyConditionExpression="transaction_id = :id",
        ExpressionAttributeValues={":id": {"S": transaction_id}},
        ConsistentRead=True,
    )["Items"]
    return dynamodb.get_item(
        TableName=table,
        Key={"transaction_id": transaction["idempotency_record_id"], "timestamp": {"N": "0"}},
        ConsistentRead=True,
    )["Item"]


def transactions_of(deployment: LocalDeployment, reference: str) -> list[dict[str, Any]]:
    items = deployment.client("dynamodb").scan(
        TableName=deployment.outputs["transactions_table_name"],
        FilterExpression="merchant_reference = :r",
        ExpressionAttributeValues={":r": {"S": reference}},
        ConsistentRead=True,
    )["Items"]
    return items


class Deliveries:
    """The audit queue and a queue subscribed to the topic, read (and emptied) as they arrive."""

    def __init__(self, deployment: LocalDeployment) -> None:
        self.sqs, self.sns = deployment.client("sqs"), deployment.client("sns")
        # The archiver reads the audit queue (its event source mapping, polled locally as Lambda
        # polls): audit messages are read from its archive, one object per distinct message.
        self.s3, self.archive = deployment.client("s3"), deployment.outputs["audit_archive_bucket_name"]
        self.archived: set[str] = set()
        self.events_url, self.subscription = deployment.subscribe_a_queue("events")
        self.audit: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.read()
        self.audit.clear()

    def read(self) -> None:
        while batch := self.sqs.receive_message(QueueUrl=self.events_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                self.raw.append(message["Body"])
                self.events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.events_url, ReceiptHandle=message["ReceiptHandle"])
        listed = self.s3.list_objects_v2(Bucket=self.archive, Prefix="audit/").get("Contents", [])
        for key in sorted(o["Key"] for o in listed if o["Key"] not in self.archived):
            self.archived.add(key)
            body = self.s3.get_object(Bucket=self.archive, Key=key)["Body"].read().decode()
            self.raw.append(body)
            self.audit.append(json.loads(body)["message"])

    def count(self, transaction_id: str) -> tuple[int, int]:
        deadline = time.monotonic() + ARCHIVE_WAIT_S  # the archiver's poll and cold start
        self.read()
        while not any(m.get("transaction_id") == transaction_id for m in self.audit) and time.monotonic() < deadline:
            time.sleep(0.5)
            self.read()
        return (
            sum(
                1
                for m in self.audit
                if m.get("transaction_id") == transaction_id and m["type"] == "transaction.created"
            ),
            sum(1 for e in self.events if e.get("event_id") == transaction_id),
        )

    def later_transitions(self, transaction_id: str) -> list[str]:
        """The audit message types of the transaction's transitions after ``received`` (where a
        payment connector authorizes it), each as often as it was archived."""
        return sorted(
            m["type"]
            for m in self.audit
            if m.get("transaction_id") == transaction_id and m["type"] != "transaction.created"
        )


@pytest.fixture(scope="session")  # made by the first test that starts early, read by the last test here
def deliveries(deployment: LocalDeployment):
    watched = Deliveries(deployment)
    yield watched
    deployment.unsubscribe(watched.subscription)


@pytest.fixture
def faults(deployment: LocalDeployment):
    """Add fault rules to the running deployment; they are cleared after the test."""
    added: list[str] = []

    def add(rule: FaultRule) -> FaultRule:
        added.append(add_fault(deployment.run.run_dir, rule).id)
        return rule

    yield add
    clear_faults(deployment.run.run_dir, added)


def hits_of(deployment: LocalDeployment, rule: FaultRule) -> list[dict[str, Any]]:
    return [hit for hit in read_hits(deployment.run.run_dir) if hit["fault"] == rule.id]


def test_a_write_that_commits_but_answers_5xx_is_one_transaction_and_a_201(deployment, faults, deliveries):
    rule = faults(FaultRule("error_after", "dynamodb", "TransactWriteItems", error="internal", count=1))
    reference = f"e2e-fail-after-{uuid.uuid4().hex[:6]}"
    response = pay(deployment, str(uuid.uuid4()), reference)
    assert response.status == 201, response.body
    assert len(hits_of(deployment, rule)) == 1
    [transaction] = transactions_of(deployment, reference)
    assert transaction["transaction_id"]["S"] == json.loads(response.body)["transaction_id"]
    assert record_of(deployment, transaction["transaction_id"]["S"])["dispatch_state"]["S"] == "complete"


@pytest.fixture(scope="session")
def stranded(deployment: LocalDeployment, deliveries: Deliveries):
    """Three payments the processor could not finish, made by faults on their real requests, by the
    first test on the shared deployment (``starts_early``): the schedule's minute passes under the
    other modules, and no reconciler run is under way to meet these faults (it settles the
    connector's slow payment, made right after):

    * ``incomplete``: SendMessage fails on every attempt -> 503 dispatch_incomplete; no retry;
    * ``crashed``: SendMessage stalls and the container is killed while waiting -> 502; the
      record stays ``dispatching`` under the lease the processor took from its real deadline;
    * ``unrecorded``: the completion update fails on every attempt -> 201, record ``dispatching``.
    Then nothing but the schedule: the reconciler must complete all three."""
    run_dir = deployment.run.run_dir
    keys = {name: str(uuid.uuid4()) for name in ("incomplete", "crashed", "unrecorded")}
    run = uuid.uuid4().hex[:6]
    references = {name: f"e2e-{name}-{run}" for name in keys}
    results: dict[str, Any] = {}
    rules = [add_fault(run_dir, FaultRule("error", "sqs", "SendMessage", error="internal", count=3))]
    results["incomplete"] = pay(deployment, keys["incomplete"], references["incomplete"])
    rules += [
        add_fault(run_dir, FaultRule("stall", "sqs", "SendMessage", delay_ms=5_000, count=1)),
        add_fault(
            run_dir, FaultRule("kill", FUNCTION_SERVICE, resource=processor_name(deployment), delay_ms=1_000, count=1)
        ),
    ]
    results["crashed"] = pay(deployment, keys["crashed"], references["crashed"])
    rules.append(
        add_fault(
            run_dir, FaultRule("error", "dynamodb", "UpdateItem", contains="audit_sent = :t", error="internal", count=3)
        )
    )
    results["unrecorded"] = pay(deployment, keys["unrecorded"], references["unrecorded"])
    stranded_at = time.monotonic()
    clear_faults(run_dir, [rule.id for rule in rules])
    hits = {rule.id: [h for h in read_hits(run_dir) if h["fault"] == rule.id] for rule in rules}
    ids = {}
    for name in keys:
        [transaction] = transactions_of(deployment, references[name])
        ids[name] = transaction["transaction_id"]["S"]
    return {
        "keys": keys,
        "references": references,
        "results": results,
        "ids": ids,
        "hits": hits,
        "rules": rules,
        "at": stranded_at,
    }


@pytest.mark.starts_early(order=0)
def test_each_fault_hit_the_call_it_names(stranded):
    incomplete, stall, kill, completion = stranded["rules"]
    assert [len(stranded["hits"][r.id]) for r in (incomplete, stall, kill, completion)] == [3, 1, 1, 3]
    assert stranded["hits"][kill.id][0]["action"] == "Invoke"


@pytest.mark.starts_early(order=0)
def test_the_failed_requests_answer_as_the_client_must_retry(stranded):
    results = stranded["results"]
    assert results["incomplete"].status == 503
    assert json.loads(results["incomplete"].body)["error"]["code"] == "dispatch_incomplete"
    assert results["crashed"].status == 502  # the gateway's answer to a function that died
    assert results["unrecorded"].status == 201  # recorded and dispatched: the client has its answer


@pytest.mark.starts_early(order=0)
def test_a_retry_inside_the_crashed_requests_lease_is_told_to_wait(deployment, stranded):
    if time.monotonic() - stranded["at"] > 8:
        pytest.skip("the crashed request's lease may have run out before this test ran")
    retry = pay(deployment, stranded["keys"]["crashed"], stranded["references"]["crashed"])
    assert retry.status == 409 and int(retry.headers["retry-after"]) >= 1


def test_the_scheduled_reconciler_completes_every_stranded_dispatch_exactly_once(deployment, stranded, deliveries):
    ids = stranded["ids"]
    deadline = time.monotonic() + RECONCILER_WAIT_S
    while time.monotonic() < deadline:
        records = {name: record_of(deployment, transaction_id) for name, transaction_id in ids.items()}
        if all(r["dispatch_state"]["S"] == "complete" for r in records.values()):
            break
        time.sleep(3)
    for name, record in records.items():
        assert record["dispatch_state"]["S"] == "complete", name
        assert "dispatch_pending" not in record and "dispatch_quarantined" not in record, name
        assert int(record["lease_expires_at"]["N"]) == 0
    time.sleep(2)  # the topic's delivery to the subscribed queue
    counts = {name: deliveries.count(transaction_id) for name, transaction_id in ids.items()}
    # The crashed request's stalled SendMessage went through after its caller died; the
    # reconciler's re-send with the same deduplication id is dropped by the FIFO queue. That
    # request may still publish its event after the reconciler took it over (the lease ran out
    # first on a busy machine): the event comes once or twice, always with the same event_id.
    assert counts["incomplete"] == (1, 1) and counts["crashed"][0] == 1 and counts["crashed"][1] >= 1
    # The completion update failed after both were sent: the audit message is deduplicated, the
    # event is published again (SNS standard topics deliver at least once; same event_id).
    assert counts["unrecorded"][0] == 1 and counts["unrecorded"][1] >= 1
    # Where a connector is enabled the reconciler also settles each: one audit message per later transition.
    for transaction_id in ids.values():
        later = deliveries.later_transitions(transaction_id)
        assert len(later) == len(set(later)), later
    [message] = [
        m
        for m in deliveries.audit
        if m.get("transaction_id") == ids["incomplete"] and m["type"] == "transaction.created"
    ]
    assert message["request_id"] != "reconciler"  # the creating request's id, as the request would have sent it
    # Its own events and audit messages: the queue, subscribed since the session's start, holds every module's.
    assert not any(contains_card_data(raw) for raw in deliveries.raw if any(t in raw for t in ids.values()))


def test_a_retry_after_reconciliation_gets_the_original_201(deployment, stranded):
    for name in ("incomplete", "crashed", "unrecorded"):
        retry = pay(deployment, stranded["keys"][name], stranded["references"][name])
        assert retry.status == 201 and retry.headers.get("idempotent-replayed") == "true", name
        assert json.loads(retry.body)["transaction_id"] == stranded["ids"][name]
        assert len(transactions_of(deployment, stranded["references"][name])) == 1
