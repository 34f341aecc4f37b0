"""A chaos experiment on a running local deployment: payments from clients that behave like real
SDKs while faults hit the deployment's AWS calls and containers (core/local/faults.py), then the
scheduled reconciler at its deployed rate -- and the steady state checked, not assumed.

    report = run_experiment(Experiment(url, endpoint, region, run_dir, suffix, api_keys))
    assert not report.failures, report.failures

Used by tests/e2e/test_chaos.py (bounded for CI) and benchmarks/chaos_bench.py (figures).
Checks: every payment got its 201; exactly one transaction per key; every 201 reads back through
GET /status as it was answered; exactly one audit message per transaction in the FIFO queue and one
distinct event on the topic (counted through a queue subscribed for the experiment); no record
left dispatching or quarantined; no PAN or CVC in responses, table, messages, events, logs.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payments_platform.core.local.faults import FUNCTION_SERVICE, FaultRule, add_fault, clear_faults, read_hits
from payments_platform.core.local.processes import emulator_client

# Card data of the experiment: never to be found anywhere but in the requests.
CARDS = (("4242424242424242", "737"), ("5555555555554444", "906"), ("378282246310005", "4071"))
RETRIED_STATUSES = {409, 429, 500, 502, 503, 504}


def default_faults(suffix: str) -> list[FaultRule]:
    """The faults of issue #16: TransactWriteItems failing before and after it commits (an error,
    and a timeout), SendMessage, Publish and the completion update failing or stalling, processor
    containers killed mid-invocation, one cold start failing."""
    processor = f"transaction-processor-{suffix}"
    return [
        FaultRule("error", "dynamodb", "TransactWriteItems", error="throttling", probability=0.08),
        FaultRule("error_after", "dynamodb", "TransactWriteItems", error="internal", probability=0.08),
        FaultRule("error_after", "dynamodb", "TransactWriteItems", error="internal", delay_ms=4_000, count=3),
        FaultRule("error", "sqs", "SendMessage", error="internal", probability=0.3),
        FaultRule("stall", "sqs", "SendMessage", delay_ms=3_500, count=2),
        FaultRule("error", "sns", "Publish", error="throttling", probability=0.3),
        # The completion update (TransactionStore.mark_dispatch_complete), and only it.
        FaultRule("error", "dynamodb", "UpdateItem", contains="audit_sent = :t", error="internal", probability=0.3),
        FaultRule("kill", FUNCTION_SERVICE, resource=processor, delay_ms=40, probability=0.02, count=3),
        FaultRule("kill", FUNCTION_SERVICE, resource=processor, delay_ms=120, probability=0.02, count=3),
        FaultRule("cold_start", FUNCTION_SERVICE, resource=processor, count=1),
    ]


@dataclass
class Experiment:
    url: str  # the stage URL
    endpoint: str  # the emulator
    region: str
    run_dir: Path
    suffix: str
    api_keys: dict[str, str]  # client name -> API key
    payments: int = 200
    threads_per_client: int = 2
    faults: list[FaultRule] | None = None  # None: default_faults(suffix)
    client_timeout_s: float = 12.0
    max_attempts: int = 20
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 4.0
    converge_timeout_s: float = 150.0
    seed: int | None = None


@dataclass
class Payment:
    client: str
    key: str
    reference: str
    body: bytes
    started: float = 0.0
    answered: float = 0.0
    status: int = 0
    response: str = ""
    transaction_id: str | None = None
    attempts: int = 0
    retries: Counter[str] = field(default_factory=Counter)


@dataclass
class Report:
    payments: list[Payment]
    faults_by_kind: Counter[str]
    faults_by_target: Counter[str]
    retries: Counter[str]
    outcomes: Counter[str]
    converge_seconds: list[float]
    audit_messages: Counter[str]
    events: Counter[str]
    reconciled: int
    load_seconds: float
    converged_after_load_seconds: float | None
    failures: list[str]
    archive_bucket: str | None = None

    def figures(self) -> dict[str, Any]:
        converge = sorted(self.converge_seconds)
        return {
            "payments": len(self.payments),
            "clients": len({p.client for p in self.payments}),
            "faults_by_kind": dict(self.faults_by_kind),
            "faults_by_target": dict(self.faults_by_target),
            "client_retries": dict(self.retries),
            "client_retries_total": sum(self.retries.values()),
            "outcomes": dict(self.outcomes),
            "converge_p50_s": round(statistics.median(converge), 2) if converge else None,
            "converge_max_s": round(converge[-1], 2) if converge else None,
            "load_seconds": round(self.load_seconds, 1),
            "converged_after_load_s": self.converged_after_load_seconds,
            "audit_messages": sum(self.audit_messages.values()),
            "events": sum(self.events.values()),
            "duplicate_events": sum(n - 1 for n in self.events.values() if n > 1),
            "reconciled_by_reconciler": self.reconciled,
            "audit_counted_in": f"archive bucket {self.archive_bucket}" if self.archive_bucket else "audit FIFO queue",
            "failures": self.failures,
        }


class SdkClient:
    """What a real payments SDK does: one Idempotency-Key per payment, the same key on every retry
    of a 409/429/5xx/timeout, exponential back-off with full jitter (at least Retry-After)."""

    def __init__(self, experiment: Experiment, name: str, api_key: str, rng: random.Random) -> None:
        self._experiment = experiment
        self.name = name
        self.api_key = api_key
        self._rng = rng
        self._lock = threading.Lock()

    def _sleep_before(self, attempt: int, retry_after: str | None) -> None:
        with self._lock:
            jitter = self._rng.random()
        pause = jitter * min(self._experiment.backoff_cap_s, self._experiment.backoff_base_s * 2**attempt)
        if retry_after and retry_after.isdigit():
            pause = max(pause, min(float(retry_after), self._experiment.backoff_cap_s * 3))
        time.sleep(pause)

    def pay(self, payment: Payment) -> Payment:
        headers = {"x-api-key": self.api_key, "Content-Type": "application/json", "Idempotency-Key": payment.key}
        payment.started = time.monotonic()
        for attempt in range(self._experiment.max_attempts):
            payment.attempts = attempt + 1
            status, answer_headers, text = _http(
                "POST", f"{self._experiment.url}/transactions", headers, payment.body, self._experiment.client_timeout_s
            )
            payment.status, payment.response = status, text
            if status not in RETRIED_STATUSES and status != 0:
                break
            payment.retries["timeout" if status == 0 else str(status)] += 1
            self._sleep_before(attempt, answer_headers.get("retry-after"))
        payment.answered = time.monotonic()
        if payment.status == 201:
            payment.transaction_id = json.loads(payment.response)["transaction_id"]
        return payment


def _http(
    method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
) -> tuple[int, dict[str, str], str]:
    """(status, lower-case headers, body); status 0 for a timeout or a connection failure."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode(errors="replace")
    except (TimeoutError, OSError):
        return 0, {}, ""


class DeliveryWatch:
    """Reads the audit FIFO queue (or, when the audit plugin archives it, the archive bucket) and a
    queue subscribed to the topic while the experiment runs: each transaction's messages counted,
    and when the first of each arrived."""

    def __init__(
        self, sqs: Any, audit_queue_url: str, events_queue_url: str, s3: Any = None, archive_bucket: str | None = None
    ) -> None:
        self._sqs = sqs
        self._s3 = s3
        self.archive_bucket = archive_bucket
        self._queues = {"audit": audit_queue_url, "event": events_queue_url}
        self.counts: dict[str, Counter[str]] = {"audit": Counter(), "event": Counter()}
        self.first_seen: dict[str, dict[str, float]] = {"audit": {}, "event": {}}
        self.bodies: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delivery-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        for kind in self._queues:  # what arrived since the last poll
            while self.drain_once(kind):
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = any([self.drain_once(kind) for kind in self._queues])
            if not busy:
                self._stop.wait(0.2)

    def drain_once(self, kind: str) -> bool:
        if kind == "audit" and self.archive_bucket is not None:
            return self._read_archive()
        url = self._queues[kind]
        try:
            batch = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
        except Exception:  # the emulator is busy: the next poll reads it
            return False
        now = time.monotonic()
        for message in batch:
            body = message["Body"]
            self.bodies.append(body)
            data = json.loads(body)
            transaction_id = data.get("transaction_id") if kind == "audit" else data.get("event_id")
            if transaction_id:
                self.counts[kind][transaction_id] += 1
                self.first_seen[kind].setdefault(transaction_id, now)
            self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bool(batch)

    def _read_archive(self) -> bool:
        """The archiver consumes the queue: count its objects (``audit/Y/M/D/<transaction>/…``)."""
        counts: Counter[str] = Counter()
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.archive_bucket, Prefix="audit/"):
                counts.update(obj["Key"].split("/")[4] for obj in page.get("Contents", []))
        except Exception:
            return False
        now = time.monotonic()
        for transaction_id in counts:
            self.first_seen["audit"].setdefault(transaction_id, now)
        self.counts["audit"] = counts
        return False


def _archive_bucket(lambda_client: Any, suffix: str) -> str | None:
    """The audit archive's bucket when the audit plugin is deployed (its archiver's setting)."""
    try:
        archiver = lambda_client.get_function_configuration(FunctionName=f"audit-archiver-{suffix}")
    except lambda_client.exceptions.ResourceNotFoundException:
        return None
    bucket: str = archiver["Environment"]["Variables"]["ARCHIVE_BUCKET_NAME"]
    return bucket


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    start = None
    while True:
        page = dynamodb.scan(TableName=table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def holds_card_data(text: str) -> bool:
    return any(pan in text or f'"cvc": "{cvc}"' in text or f'"cvc":"{cvc}"' in text for pan, cvc in CARDS)


def run_experiment(experiment: Experiment, say: Callable[[str], None] = lambda _line: None) -> Report:
    rng = random.Random(experiment.seed)
    run_id = uuid.uuid4().hex[:8]

    def client(service: str) -> Any:
        return emulator_client(service, experiment.endpoint, experiment.region)

    processor = client("lambda").get_function_configuration(FunctionName=f"transaction-processor-{experiment.suffix}")
    variables = processor["Environment"]["Variables"]
    table, audit_queue, topic = (
        variables["TRANSACTIONS_TABLE_NAME"],
        variables["AUDIT_QUEUE_URL"],
        variables["NOTIFICATIONS_TOPIC_ARN"],
    )
    sqs, sns = client("sqs"), client("sns")
    tap = sqs.create_queue(QueueName=f"chaos-events-{run_id}")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=tap_arn, Attributes={"RawMessageDelivery": "true"}
    )["SubscriptionArn"]
    archive = _archive_bucket(client("lambda"), experiment.suffix)
    say(
        f"chaos {run_id}: audit plugin "
        + (f"enabled: archived objects counted in {archive}" if archive else "not deployed: audit queue counted")
    )
    watch = DeliveryWatch(sqs, audit_queue, tap, client("s3"), archive)
    # Whatever earlier work left in the audit queue (or archive) is not this experiment's.
    while archive is None and watch.drain_once("audit"):
        pass
    watch.counts["audit"].clear()
    watch.first_seen["audit"].clear()
    watch.bodies.clear()
    watch.start()

    clients = [
        SdkClient(experiment, name, key, random.Random(rng.random()))
        for name, key in sorted(experiment.api_keys.items())
    ]
    payments = []
    for n in range(experiment.payments):
        pan, cvc = CARDS[n % len(CARDS)]
        reference = f"chaos-{run_id}-{n}"
        body = {
            "amount": 100 + n,
            "currency": "EUR",
            "merchant_reference": reference,
            "card": {"number": pan, "exp_month": 12, "exp_year": time.gmtime().tm_year + 3, "cvc": cvc},
        }
        payments.append(
            Payment(clients[n % len(clients)].name, str(uuid.uuid4()), reference, json.dumps(body).encode())
        )
    by_name = {c.name: c for c in clients}

    rules = experiment.faults if experiment.faults is not None else default_faults(experiment.suffix)
    hits_before = len(read_hits(experiment.run_dir))
    for rule in rules:
        add_fault(experiment.run_dir, rule)
    say(f"chaos {run_id}: {len(payments)} payments from {len(clients)} clients, {len(rules)} fault rules")
    load_started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=len(clients) * experiment.threads_per_client) as pool:
            list(pool.map(lambda p: by_name[p.client].pay(p), payments))
    finally:
        clear_faults(experiment.run_dir, [rule.id for rule in rules])
    load_ended = time.monotonic()
    say(f"chaos {run_id}: load done in {load_ended - load_started:.1f} s; waiting for convergence")

    created = {p.transaction_id: p for p in payments if p.transaction_id}
    converged_at = _wait_for_convergence(experiment, client("dynamodb"), table, watch, set(created), run_id)
    watch.stop()
    sns.unsubscribe(SubscriptionArn=subscription)
    sqs.delete_queue(QueueUrl=tap)

    hits = read_hits(experiment.run_dir)[hits_before:]
    by_kind = Counter(hit["kind"] for hit in hits)
    by_target = Counter(f"{hit['service']}:{hit['action']}" for hit in hits)
    failures = _check(experiment, client, table, payments, created, watch, run_id, by_name)
    converge = [
        max(watch.first_seen["audit"].get(t, float("nan")), watch.first_seen["event"].get(t, float("nan")))
        - created[t].started
        for t in created
        if t in watch.first_seen["audit"] and t in watch.first_seen["event"]
    ]
    reconciled = _reconciled(client("logs"), experiment.suffix, set(created))
    # SNS standard topics deliver at least once: an event is published again only when the
    # reconciler re-sent a dispatch the request had finished but could not record (its completion
    # update failed, or its container died after the publish). Anything else is a bug.
    unexplained = [t for t, n in watch.counts["event"].items() if t in created and n > 1 and t not in reconciled]
    if unexplained:
        failures.append(
            f"{len(unexplained)} duplicate events not explained by a reconciled dispatch: {unexplained[:5]}"
        )
    return Report(
        payments=payments,
        faults_by_kind=by_kind,
        faults_by_target=by_target,
        retries=sum((p.retries for p in payments), Counter()),
        outcomes=Counter(str(p.status) for p in payments),
        converge_seconds=converge,
        audit_messages=Counter({t: watch.counts["audit"][t] for t in created}),
        events=Counter({t: watch.counts["event"][t] for t in created}),
        reconciled=len(reconciled),
        load_seconds=load_ended - load_started,
        converged_after_load_seconds=None if converged_at is None else round(converged_at - load_ended, 1),
        failures=failures,
        archive_bucket=archive,
    )


def _ours(items: list[dict[str, Any]], transaction_ids: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records = [i for i in items if i.get("target_transaction_id", {}).get("S") in transaction_ids]
    return [i for i in items if i.get("record_type", {}).get("S") == "transaction"], records


def _wait_for_convergence(
    experiment: Experiment, dynamodb: Any, table: str, watch: DeliveryWatch, transaction_ids: set[str], run_id: str
) -> float | None:
    deadline = time.monotonic() + experiment.converge_timeout_s
    while time.monotonic() < deadline:
        delivered = transaction_ids <= set(watch.first_seen["audit"]) and transaction_ids <= set(
            watch.first_seen["event"]
        )
        if delivered:
            _, records = _ours(_scan(dynamodb, table), transaction_ids)
            if all("dispatch_pending" not in r and r["dispatch_state"]["S"] == "complete" for r in records):
                return time.monotonic()
        time.sleep(2)
    return None


def _check(
    experiment: Experiment,
    client: Callable[[str], Any],
    table: str,
    payments: list[Payment],
    created: dict[str, Payment],
    watch: DeliveryWatch,
    run_id: str,
    clients: dict[str, SdkClient],
) -> list[str]:
    failures = []
    unanswered = Counter(str(p.status) for p in payments if p.status != 201)
    if unanswered:
        failures.append(f"payments without a 201 after {experiment.max_attempts} attempts: {dict(unanswered)}")
    items = _scan(client("dynamodb"), table)
    transactions, records = _ours(items, set(created))
    mine = [t for t in transactions if t["merchant_reference"]["S"].startswith(f"chaos-{run_id}-")]
    per_reference = Counter(t["merchant_reference"]["S"] for t in mine)
    doubled = {ref: n for ref, n in per_reference.items() if n > 1}
    if doubled:
        failures.append(f"{len(doubled)} keys with more than one transaction: {sorted(doubled)[:5]}")
    stored = {t["merchant_reference"]["S"]: t["transaction_id"]["S"] for t in mine}
    for payment in payments:
        if payment.transaction_id and stored.get(payment.reference) != payment.transaction_id:
            failures.append(
                f"{payment.reference}: 201 named {payment.transaction_id}, the table {stored.get(payment.reference)}"
            )
    unfinished = [
        r["transaction_id"]["S"]
        for r in records
        if "dispatch_pending" in r or r["dispatch_state"]["S"] != "complete" or "dispatch_quarantined" in r
    ]
    if unfinished:
        failures.append(f"{len(unfinished)} idempotency records not complete (dispatching/quarantined)")
    quarantined = [i["transaction_id"]["S"] for i in items if "dispatch_quarantined" in i]
    if quarantined:
        failures.append(f"{len(quarantined)} records quarantined anywhere in the table")
    audit_label = "archived audit objects" if watch.archive_bucket else "audit messages"
    for kind, label in (("audit", audit_label), ("event", "distinct events")):
        counts = watch.counts[kind]
        missing = [t for t in created if counts[t] == 0]
        if missing:
            failures.append(f"{len(missing)} transactions without {label}: {missing[:5]}")
    doubled_audit = {t: n for t, n in watch.counts["audit"].items() if t in created and n > 1}
    if doubled_audit:
        failures.append(f"{len(doubled_audit)} transactions with more than one of their {audit_label}")
    strangers = [t for t in watch.counts["audit"] if t not in created and not watch.archive_bucket]
    if strangers:
        failures.append(f"{len(strangers)} audit messages for transactions no client was told of: {strangers[:5]}")
    for payment in (p for p in payments if p.transaction_id):
        # Read back as an SDK would: a 429/503 (the method throttle, a busy function) is retried.
        for attempt in range(8):
            status, _, text = _http(
                "GET",
                f"{experiment.url}/status?transaction_id={payment.transaction_id}",
                {"x-api-key": clients[payment.client].api_key},
                None,
                experiment.client_timeout_s,
            )
            if status not in (429, 503):
                break
            time.sleep(min(2.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0))
        if status != 200 or json.loads(text) != json.loads(payment.response):
            failures.append(f"{payment.transaction_id} reads back {status}, not as its 201")
    texts = [json.dumps(items), *watch.bodies, *(p.response for p in payments)]
    for log in ("gateway.log", "emulator.log", "faults.log"):
        path = experiment.run_dir / log
        texts.append(path.read_text(errors="replace") if path.exists() else "")
    if any(holds_card_data(text) for text in texts):
        failures.append("card data (PAN or CVC) in the table, a message, an event, a response or a log")
    return failures


def _reconciled(logs: Any, suffix: str, transaction_ids: set[str]) -> set[str]:
    """How many of the experiment's transactions the reconciler completed (its log lines)."""
    group = f"/aws/lambda/transaction-reconciler-{suffix}"
    done: set[str] = set()
    token = None
    while True:
        page = logs.filter_log_events(logGroupName=group, **({"nextToken": token} if token else {}))
        for event in page["events"]:
            if '"reconciler.dispatch_completed"' in event["message"]:
                transaction_id = json.loads(event["message"]).get("transaction_id")
                if transaction_id in transaction_ids:
                    done.add(transaction_id)
        token = page.get("nextToken")
        if not token or not page["events"]:
            return done
