"""What ``local up`` shows and ``local smoke`` checks of the payments API (the ``local`` hooks).

A payment end to end: POST /transactions (201, no card data in the answer), its idempotent
replay, GET /status, the 403 without a key, the 400 of an invalid body, the CORS preflight, the
item in the table, the audit message (in its FIFO queue, or archived where a function consumes
the queue), the event on the notifications topic (through a temporary queue subscribed to it: the
topic's real subscriber is an e-mail address) and the functions' logs -- none holding card data.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from payments_platform.core import CheckFailed, ExampleRequest, HttpResponse, LocalDeployment, SmokeCheck
from payments_platform.runtime.idempotency import RECORD_ID_PREFIX
from payments_platform.runtime.redaction import contains_card_data

from .definition import STATUS_CHECKER, TRANSACTION_PROCESSOR

# Stripe's Visa test number: Luhn-valid, never a real card. The CVC is one no id or timestamp
# is likely to contain next to the word "cvc".
TEST_PAN = "4242424242424242"
TEST_CVC = "737"
# The archiver's poller receives within a second of the send; its cold start takes a few more.
ARCHIVE_WAIT_S = 20


def payment_body(reference: str, *, pan: str = TEST_PAN, cvc: str = TEST_CVC, amount: int = 1999) -> bytes:
    """A valid POST /transactions body for the test card."""
    return json.dumps(
        {
            "amount": amount,
            "currency": "EUR",
            "merchant_reference": reference,
            "card": {"number": pan, "exp_month": 12, "exp_year": time.gmtime().tm_year + 3, "cvc": cvc},
        }
    ).encode()


# Values the runtime derives by HMAC-SHA-256 (idempotency record ids, card fingerprints, request
# fingerprints): hex digests no client input reaches, in which a 16-digit run with a scheme's BIN
# turns up by chance (about one digest in 300 for contains_card_data: a table of a chaos run's
# records never scans clean). A client's own 64-hex value holding a PAN is refused at validation.
_DERIVED_ID = re.compile(rf"(?:{re.escape(RECORD_ID_PREFIX)}|cfp_)?[0-9a-f]{{64}}")


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
    (``payments=False``: the invalid bodies only). Issue #30: such a client never meets a 429."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
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
                headers = {"Content-Type": "application/json", "x-api-key": api_key, "Idempotency-Key": idempotency_key}
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                seconds = time.perf_counter() - started
                answers.append(SequentialAnswer(kind, response.status, response.getheader("Retry-After"), seconds))
    finally:
        connection.close()
    return answers


def derived_identifier(text: str) -> bool:
    """True for a whole value the runtime derived by HMAC (see :data:`_DERIVED_ID`): a scan for
    card data skips it, wherever it was found (table, event, archive, log line field)."""
    return _DERIVED_ID.fullmatch(text) is not None


def _event_of(body: str) -> dict[str, Any]:
    """A payment event as a queue subscribed to the topic holds it: raw, or in SNS's envelope."""
    data = json.loads(body)
    return json.loads(data["Message"]) if isinstance(data, dict) and "Message" in data else data


def item_strings(value: Any) -> Iterator[str]:
    """Every string a DynamoDB item (or a list of them) holds -- attribute names and S values, at
    any depth -- but not its numbers: those are the platform's own (epoch-millisecond timestamps,
    a tenth of which pass Luhn), and card data is only ever written as a string (the record codec);
    nor the HMAC-derived ids (:data:`_DERIVED_ID`)."""
    if isinstance(value, str):
        if not derived_identifier(value):
            yield value
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "N" or key == "NS":
                continue
            yield str(key)
            yield from item_strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from item_strings(inner)


def items_hold_card_data(items: list[dict[str, Any]]) -> bool:
    return any(contains_card_data(text) for text in item_strings(items))


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def queue_consumer(deployment: LocalDeployment, queue_url: str) -> str | None:
    """The function an event source mapping feeds from the queue (where the audit queue is
    archived: the archiver), if any -- found in the deployment, not by another plugin's name."""
    queue_arn = deployment.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    arn = queue_arn["Attributes"]["QueueArn"]
    for mapping in deployment.client("lambda").list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]:
        return str(mapping["FunctionArn"].rsplit(":function:", 1)[-1])
    return None


def archive_bucket(deployment: LocalDeployment, archiver: str) -> str:
    """The bucket the audit queue's consumer archives into (its ARCHIVE_BUCKET_NAME setting)."""
    configuration = deployment.client("lambda").get_function_configuration(FunctionName=archiver)
    return str(configuration["Environment"]["Variables"]["ARCHIVE_BUCKET_NAME"])


def example_requests(deployment: LocalDeployment) -> list[ExampleRequest]:
    key = next(iter(sorted(deployment.api_keys.values())), "<key>")
    # A fixed key, so running the line twice shows an idempotent replay.
    idempotency_key = str(uuid.uuid4())
    body = (
        '{"amount": 1999, "currency": "EUR", "merchant_reference": "order-1", '
        f'"card": {{"number": "{TEST_PAN}", "exp_month": 12, "exp_year": {time.gmtime().tm_year + 3}, "cvc": "123"}}}}'
    )
    return [
        ExampleRequest(
            "POST",
            f"{deployment.url}/transactions",
            (("x-api-key", key), ("Content-Type", "application/json"), ("Idempotency-Key", idempotency_key)),
            body,
            note="run the POST twice: the second answer is the stored 201, Idempotent-Replayed: true",
        ),
        ExampleRequest(
            "GET", f"{deployment.url}/status?transaction_id=<transaction_id from the POST>", (("x-api-key", key),)
        ),
    ]


@dataclass
class PaymentSmoke:
    """The checks, against a running local deployment; state flows from one step to the next."""

    deployment: LocalDeployment
    key: str = ""
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    transaction: dict[str, Any] = field(default_factory=dict)
    events_queue: str | None = None
    events_subscription: str | None = None

    def checks(self) -> list[SmokeCheck]:
        steps: list[tuple[str, Callable[[], str]]] = [
            ("POST /transactions", self.post_payment),
            ("replay with the same Idempotency-Key", self.replay),
            ("GET /status", self.status),
            ("no API key", self.no_key),
            ("invalid body", self.invalid_body),
            ("CORS preflight", self.preflight),
            ("the item in the table", self.stored_item),
            ("the audit message (FIFO queue, or its archive where the archiver reads it)", self.audit_message),
            ("the event on the topic", self.payment_event),
            ("the function logs in their log groups", self.function_logs),
        ]
        subscribe = SmokeCheck("subscribe to payment events", self.subscribe_to_events, self.cleanup_subscription)
        return [subscribe, *(SmokeCheck(name, run) for name, run in steps)]

    def client(self, service: str) -> Any:
        return self.deployment.client(service)

    def processor_environment(self) -> dict[str, str]:
        name = self.deployment.resource_name(TRANSACTION_PROCESSOR)
        variables: dict[str, str] = self.client("lambda").get_function_configuration(FunctionName=name)["Environment"][
            "Variables"
        ]
        return variables

    def post(self, body: bytes, **headers: str) -> HttpResponse:
        base = {"Content-Type": "application/json", "x-api-key": self.key, "Idempotency-Key": self.idempotency_key}
        return self.deployment.request("POST", "/transactions", headers={**base, **headers}, body=body)

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
        self.key = next(iter(sorted(self.deployment.api_keys.values())))
        result = self.post(payment_body("smoke-1"))
        expect(result.status == 201, f"POST /transactions answered {result.status}: {result.body[:300]!r}")
        self.transaction = result.json()
        expect(not contains_card_data(result.text), "the 201 response holds card data")
        return f"201, transaction {self.transaction.get('transaction_id')}"

    def replay(self) -> str:
        result = self.post(payment_body("smoke-1"))
        expect(result.status == 201, f"the replay answered {result.status}: {result.body[:300]!r}")
        expect(result.headers.get("idempotent-replayed") == "true", "the replay lacks Idempotent-Replayed: true")
        expect(result.json() == self.transaction, "the replay's body differs from the original 201")
        return "201 again, Idempotent-Replayed: true, same body"

    def status(self) -> str:
        transaction_id = self.transaction["transaction_id"]
        result = self.deployment.request(
            "GET", f"/status?transaction_id={transaction_id}", headers={"x-api-key": self.key}
        )
        expect(result.status == 200, f"GET /status answered {result.status}: {result.body[:300]!r}")
        expect(result.json().get("transaction_id") == transaction_id, "GET /status returned another transaction")
        return f"200, status {result.json().get('status')}"

    def no_key(self) -> str:
        result = self.deployment.request(
            "POST", "/transactions", headers={"Content-Type": "application/json"}, body=payment_body("smoke-2")
        )
        expect(result.status == 403, f"a request without an API key answered {result.status}")
        expect(not contains_card_data(result.text), "the 403 echoes card data")
        return "403 " + json.loads(result.body).get("error", {}).get("code", "")

    def invalid_body(self) -> str:
        bad = json.loads(payment_body("smoke-3"))
        bad["amount"] = "nineteen"
        result = self.post(json.dumps(bad).encode(), **{"Idempotency-Key": str(uuid.uuid4())})
        expect(result.status == 400, f"an invalid body answered {result.status}")
        expect(not contains_card_data(result.text), "the 400 echoes card data")
        return "400 " + json.loads(result.body).get("error", {}).get("code", "")

    def preflight(self) -> str:
        result = self.deployment.request(
            "OPTIONS",
            "/transactions",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
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
        expect(not items_hold_card_data(everything), "the table holds card data")
        return f"1 item, {len(everything)} in the table, no card data"

    def audit_message(self) -> str:
        url = self.processor_environment()["AUDIT_QUEUE_URL"]
        archiver = queue_consumer(self.deployment, url)
        if archiver is not None:
            return self._archived_audit_message(archiver)
        messages = self._drain(url)
        mine = [m for m in messages if self.transaction["transaction_id"] in m]
        expected = self.transitions()
        expect(len(mine) == expected, f"{len(mine)} audit messages for the transaction's {expected} transitions")
        expect(not any(contains_card_data(m) for m in messages), "an audit message holds card data")
        return f"{len(messages)} message(s), {expected} for the transaction (one per transition), no card data"

    def transitions(self) -> int:
        """How many transitions the POST's answer went through: 1 (received, intake only), else
        received, processing and -- unless still processing -- the outcome (docs/RUNTIME.md)."""
        status = self.transaction.get("status")
        return {"received": 1, "processing": 2}.get(str(status), 3)

    def _archived_audit_message(self, archiver: str) -> str:
        """queue → archiver (polled as Lambda polls) → the archive bucket, within a few seconds."""
        bucket = archive_bucket(self.deployment, archiver)
        s3 = self.client("s3")
        transaction_id = self.transaction["transaction_id"]
        keys: list[str] = []
        expected = self.transitions()
        deadline = time.monotonic() + ARCHIVE_WAIT_S
        while time.monotonic() < deadline and len(keys) < expected:
            listed = s3.list_objects_v2(Bucket=bucket, Prefix="audit/").get("Contents", [])
            keys = [o["Key"] for o in listed if f"/{transaction_id}/" in o["Key"]]
            time.sleep(0.25)
        expect(
            len(keys) == expected, f"{len(keys)} archived audit records for the transaction's {expected} transitions"
        )
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            expect(not contains_card_data(body), "an archived audit record holds card data")
        return f"archived by {archiver} as {len(keys)} records (one per transition) in s3://{bucket}, no card data"

    def payment_event(self) -> str:
        assert self.events_queue is not None
        messages = self._drain(self.events_queue)
        mine = [m for m in messages if self.transaction["transaction_id"] in m]
        expected = self.transitions()
        ids = {_event_of(m).get("event_id") for m in mine}
        expect(len(ids) == expected, f"{len(ids)} distinct events for the transaction's {expected} transitions")
        expect(not any(contains_card_data(m) for m in messages), "an event holds card data")
        return f"{expected} event(s), one per transition, no card data"

    def function_logs(self) -> str:
        logs = self.client("logs")
        counts = {}
        for function in (TRANSACTION_PROCESSOR, STATUS_CHECKER):
            group = f"/aws/lambda/{self.deployment.resource_name(function)}"
            events: list[dict[str, Any]] = []
            deadline = time.monotonic() + 5  # the gateway ships logs every half second
            while time.monotonic() < deadline:
                events = logs.filter_log_events(logGroupName=group)["events"]
                if any(e["message"].startswith("REPORT") for e in events):
                    break
                time.sleep(0.25)
            expect(any(e["message"].startswith("REPORT") for e in events), f"no invocation logged in {group}")
            expect(not any(contains_card_data(e["message"]) for e in events), f"{group} holds card data")
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
