"""``local smoke``: the platform, up on this machine, takes a payment end to end -- then goes away.

Each check is one step with its time; the first failing step ends the checks, and the run is
always taken down. A temporary SQS queue subscribed to the notifications topic is how the
smoke test sees the payment event (the topic's real subscriber is an e-mail address).
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from payments_platform.core.local.leftovers import leftovers
from payments_platform.core.local.lifecycle import LocalRun, RunRecord, down, up
from payments_platform.core.local.processes import emulator_client

# Stripe's Visa test number: Luhn-valid, never a real card. The CVC is one no id or timestamp
# is likely to contain next to the word "cvc".
TEST_PAN = "4242424242424242"
TEST_CVC = "737"
HTTP_TIMEOUT_S = 30
# The archiver's poller receives within a second of the send; its cold start takes a few more.
ARCHIVE_WAIT_S = 20


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes | None = None) -> HttpResult:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as response:
            return HttpResult(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def payment_body(reference: str) -> bytes:
    return json.dumps(
        {
            "amount": 1999,
            "currency": "EUR",
            "merchant_reference": reference,
            "card": {"number": TEST_PAN, "exp_month": 12, "exp_year": time.gmtime().tm_year + 3, "cvc": TEST_CVC},
        }
    ).encode()


@dataclass(frozen=True)
class SequentialAnswer:
    kind: str  # "payment", "replay" or "invalid"
    status: int
    retry_after: str | None
    seconds: float


def sequential_client(
    url: str, api_key: str, *, rounds: int = 20, invalid_per_round: int = 8, payments: bool = True
) -> list[SequentialAnswer]:
    """One client, one keep-alive connection, never more than one request in flight -- what a person,
    a black-box check or a contract fuzzer's worker sends: per round a new payment, its immediate
    replay, then invalid bodies the gateway's validator answers without running a function
    (``payments=False``: the invalid bodies only)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=HTTP_TIMEOUT_S)
    path = f"{parts.path.rstrip('/')}/transactions"
    invalid = json.loads(payment_body("sequential-invalid"))
    invalid["amount"] = "nineteen"
    answers: list[SequentialAnswer] = []
    try:
        for round_ in range(rounds):
            key = str(uuid.uuid4())
            payment = payment_body(f"sequential-{uuid.uuid4().hex[:8]}-{round_}")
            sends = [("payment", payment, key), ("replay", payment, key)] if payments else []
            sends += [("invalid", json.dumps(invalid).encode(), str(uuid.uuid4()))] * invalid_per_round
            for kind, body, idempotency_key in sends:
                started = time.perf_counter()
                connection.request(
                    "POST",
                    path,
                    body=body,
                    headers={
                        "Content-Type": "application/json",
                        "x-api-key": api_key,
                        "Idempotency-Key": idempotency_key,
                    },
                )
                response = connection.getresponse()
                response.read()
                answers.append(
                    SequentialAnswer(
                        kind, response.status, response.getheader("Retry-After"), time.perf_counter() - started
                    )
                )
    finally:
        connection.close()
    return answers


def holds_card_data(text: str) -> bool:
    return TEST_PAN in text or re.search(rf"cvc\W{{0,6}}{TEST_CVC}", text, re.IGNORECASE) is not None


class SmokeFailure(AssertionError):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


@dataclass
class Smoke:
    """The checks, against a running local deployment."""

    record: RunRecord
    key: str = ""
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    transaction: dict[str, Any] = field(default_factory=dict)
    first: HttpResult | None = None
    events_queue: str | None = None
    events_subscription: str | None = None

    def client(self, service: str) -> Any:
        assert self.record.endpoint is not None
        return emulator_client(service, self.record.endpoint, self.record.region)

    def processor_environment(self) -> dict[str, str]:
        name = f"transaction-processor-{self.record.suffix}"
        return self.client("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"]

    def post(self, body: bytes, **headers: str) -> HttpResult:
        base = {"Content-Type": "application/json", "x-api-key": self.key, "Idempotency-Key": self.idempotency_key}
        return request("POST", f"{self.record.url}/transactions", headers={**base, **headers}, body=body)

    # -- the steps ----------------------------------------------------------------------------
    def subscribe_to_events(self) -> str:
        sqs, sns = self.client("sqs"), self.client("sns")
        self.events_queue = sqs.create_queue(QueueName=f"smoke-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.events_queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        topic = self.processor_environment()["NOTIFICATIONS_TOPIC_ARN"]
        self.events_subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
        return "a temporary queue listens to the notifications topic"

    def post_payment(self) -> str:
        self.key = next(iter(sorted(self.record.api_keys.values())))
        self.first = result = self.post(payment_body("smoke-1"))
        expect(result.status == 201, f"POST /transactions answered {result.status}: {result.body[:300]!r}")
        self.transaction = result.json()
        expect(not holds_card_data(result.body.decode()), "the 201 response holds card data")
        return f"201, transaction {self.transaction.get('transaction_id')}"

    def replay(self) -> str:
        result = self.post(payment_body("smoke-1"))
        expect(result.status == 201, f"the replay answered {result.status}: {result.body[:300]!r}")
        expect(result.headers.get("idempotent-replayed") == "true", "the replay lacks Idempotent-Replayed: true")
        expect(result.json() == self.transaction, "the replay's body differs from the original 201")
        return "201 again, Idempotent-Replayed: true, same body"

    def status(self) -> str:
        transaction_id = self.transaction["transaction_id"]
        result = request(
            "GET", f"{self.record.url}/status?transaction_id={transaction_id}", headers={"x-api-key": self.key}
        )
        expect(result.status == 200, f"GET /status answered {result.status}: {result.body[:300]!r}")
        expect(result.json().get("transaction_id") == transaction_id, "GET /status returned another transaction")
        return f"200, status {result.json().get('status')}"

    def no_key(self) -> str:
        result = request(
            "POST",
            f"{self.record.url}/transactions",
            headers={"Content-Type": "application/json"},
            body=payment_body("smoke-2"),
        )
        expect(result.status == 403, f"a request without an API key answered {result.status}")
        expect(not holds_card_data(result.body.decode()), "the 403 echoes card data")
        return "403 " + json.loads(result.body).get("error", {}).get("code", "")

    def invalid_body(self) -> str:
        bad = json.loads(payment_body("smoke-3"))
        bad["amount"] = "nineteen"
        result = self.post(json.dumps(bad).encode(), **{"Idempotency-Key": str(uuid.uuid4())})
        expect(result.status == 400, f"an invalid body answered {result.status}")
        expect(not holds_card_data(result.body.decode()), "the 400 echoes card data")
        return "400 " + json.loads(result.body).get("error", {}).get("code", "")

    def preflight(self) -> str:
        result = request(
            "OPTIONS",
            f"{self.record.url}/transactions",
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST",
            },
        )
        expect(result.status == 200, f"the CORS preflight answered {result.status}")
        expect(
            result.headers.get("access-control-allow-origin") == "*", "the preflight lacks Access-Control-Allow-Origin"
        )
        expect("POST" in result.headers.get("access-control-allow-methods", ""), "the preflight does not allow POST")
        return "200, " + result.headers.get("access-control-allow-methods", "")

    def stored_item(self) -> str:
        variables = self.processor_environment()
        items = self.client("dynamodb").query(
            TableName=variables["TRANSACTIONS_TABLE_NAME"],
            KeyConditionExpression="transaction_id = :t",
            ExpressionAttributeValues={":t": {"S": self.transaction["transaction_id"]}},
        )["Items"]
        expect(len(items) == 1, f"the table holds {len(items)} items for the transaction")
        everything = self.client("dynamodb").scan(TableName=variables["TRANSACTIONS_TABLE_NAME"])["Items"]
        expect(not holds_card_data(json.dumps(everything)), "the table holds card data")
        return f"1 item, {len(everything)} in the table, no card data"

    def audit_message(self) -> str:
        url = self.processor_environment()["AUDIT_QUEUE_URL"]
        archiver = self._queue_consumer(url)
        if archiver is not None:
            return self._archived_audit_message(archiver)
        messages = self._drain(url)
        mine = [m for m in messages if self.transaction["transaction_id"] in m]
        expect(len(mine) == 1, f"{len(mine)} audit messages for the transaction in the FIFO queue")
        expect(not any(holds_card_data(m) for m in messages), "an audit message holds card data")
        return f"{len(messages)} message(s), 1 for the transaction, no card data"

    def _queue_consumer(self, queue_url: str) -> str | None:
        """The function an event source mapping feeds from the queue (the audit archiver), if any."""
        queue_arn = self.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        arn = queue_arn["Attributes"]["QueueArn"]
        for mapping in self.client("lambda").list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]:
            return str(mapping["FunctionArn"].rsplit(":function:", 1)[-1])
        return None

    def _archived_audit_message(self, archiver: str) -> str:
        """queue → archiver (polled as Lambda polls) → the archive bucket, within a few seconds."""
        bucket = self.client("lambda").get_function_configuration(FunctionName=archiver)["Environment"]["Variables"][
            "ARCHIVE_BUCKET_NAME"
        ]
        s3 = self.client("s3")
        transaction_id = self.transaction["transaction_id"]
        keys: list[str] = []
        deadline = time.monotonic() + ARCHIVE_WAIT_S
        while time.monotonic() < deadline and not keys:
            listed = s3.list_objects_v2(Bucket=bucket, Prefix="audit/").get("Contents", [])
            keys = [o["Key"] for o in listed if f"/{transaction_id}/" in o["Key"]]
            time.sleep(0.25)
        expect(len(keys) == 1, f"{len(keys)} archived audit records for the transaction in {bucket}")
        body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode()
        expect(not holds_card_data(body), "the archived audit record holds card data")
        return f"archived by {archiver} as s3://{bucket}/{keys[0]}, no card data"

    def payment_event(self) -> str:
        assert self.events_queue is not None
        messages = self._drain(self.events_queue)
        mine = [m for m in messages if self.transaction["transaction_id"] in m]
        expect(len(mine) == 1, f"{len(mine)} events for the transaction on the topic")
        expect(not any(holds_card_data(m) for m in messages), "an event holds card data")
        return "1 event, no card data"

    def function_logs(self) -> str:
        logs = self.client("logs")
        counts = {}
        for function in ("transaction-processor", "status-checker"):
            group = f"/aws/lambda/{function}-{self.record.suffix}"
            events: list[dict[str, Any]] = []
            deadline = time.monotonic() + 5  # the gateway ships logs every half second
            while time.monotonic() < deadline:
                events = logs.filter_log_events(logGroupName=group)["events"]
                if any(e["message"].startswith("REPORT") for e in events):
                    break
                time.sleep(0.25)
            expect(any(e["message"].startswith("REPORT") for e in events), f"no invocation logged in {group}")
            expect(not any(holds_card_data(e["message"]) for e in events), f"{group} holds card data")
            counts[function] = len(events)
        return ", ".join(f"{name}: {n} lines" for name, n in counts.items()) + ", no card data"

    def cleanup_subscription(self) -> None:
        if self.events_subscription:
            self.client("sns").unsubscribe(SubscriptionArn=self.events_subscription)
            self.events_subscription = None
        if self.events_queue:
            self.client("sqs").delete_queue(QueueUrl=self.events_queue)
            self.events_queue = None

    def _drain(self, url: str) -> list[str]:
        sqs = self.client("sqs")
        bodies: list[str] = []
        for _ in range(5):
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            if not batch and bodies:
                break
            for message in batch:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies


def run_smoke(run: LocalRun, *, plan_check: Callable[[RunRecord], str], **up_options: Any) -> bool:
    """up → every check → down; True when all passed."""
    say = run.say
    record = up(run, **up_options)
    smoke = Smoke(record)
    steps: list[tuple[str, Callable[[], str]]] = [
        ("subscribe to payment events", smoke.subscribe_to_events),
        ("POST /transactions", smoke.post_payment),
        ("replay with the same Idempotency-Key", smoke.replay),
        ("GET /status", smoke.status),
        ("no API key", smoke.no_key),
        ("invalid body", smoke.invalid_body),
        ("CORS preflight", smoke.preflight),
        ("the item in the table", smoke.stored_item),
        ("the audit message (FIFO queue, or its archive where the archiver reads it)", smoke.audit_message),
        ("the event on the topic", smoke.payment_event),
        ("the function logs in their log groups", smoke.function_logs),
        ("terraform plan shows no changes", lambda: plan_check(record)),
    ]
    passed = True
    try:
        for name, check in steps:
            started = time.perf_counter()
            try:
                outcome = check()
            except SmokeFailure as failure:
                say(f"✗ {name}: {failure}")
                passed = False
                break
            say(f"✓ {name}: {outcome} ({(time.perf_counter() - started) * 1000:.0f} ms)")
    finally:
        try:
            smoke.cleanup_subscription()
        except Exception as exc:  # the emulator may be what failed
            say(f"  (could not remove the temporary subscription: {exc})")

        def nothing_left(final: RunRecord) -> None:
            nonlocal passed
            left = leftovers(smoke.client, final.suffix)
            if left:
                passed = False
                say(
                    "✗ after down, the emulator still holds: "
                    + "; ".join(f"{k}: {', '.join(v)}" for k, v in left.items())
                )
            else:
                say("✓ after down, the emulator holds none of the platform's resources")

        down(run, before_stop=nothing_left)
        if run.teardown_error:
            say(f"✗ local down could not destroy the deployment: {run.teardown_error}")
            passed = False
    return passed
