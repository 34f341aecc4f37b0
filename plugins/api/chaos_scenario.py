"""The payments chaos scenario (issue #16) for core/testing/chaos.py: payments while
TransactWriteItems (before and after it commits), SendMessage, Publish and the completion update
fail or stall and processor containers are killed mid-invocation; then the reconciler at its
deployed rate -- and the steady state checked, not assumed.

Where a payment connector is enabled, the connector's faults join them (connector_chaos.py, issue
#28): a mix of the simulator's test cards, connector errors, answers slower than the budget,
processor containers killed waiting on the connector and connector containers killed mid-call.

Steady state: exactly one transaction per idempotency key; every 201 reads back through
GET /status as it was answered (a 202 ``processing`` with its outcome); exactly one audit message
per transition in the FIFO queue (or one archived object, where the audit archiver consumes the
queue) and one distinct event per transition on the topic (counted through a queue subscribed for
the experiment); nothing left ``processing``; no record left dispatching or quarantined; with the
acquirer simulator, each transaction in the status its card dictates and at most one authorization
per payment in its ledger; no PAN or CVC in responses, table, ledger, messages, events, logs (the
connector's log group included).
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from payments_platform.core import FUNCTION_SERVICE, ChaosRequest, ChaosScenario, FaultRule, LocalDeployment
from payments_platform.runtime.redaction import contains_card_data, mask_text

from .connector_chaos import ConnectorUnderTest, LedgerCheck, card_for, scan
from .definition import TRANSACTION_PROCESSOR, TRANSACTION_RECONCILER
from .local_checks import archive_bucket, item_strings, payment_body, queue_consumer

# Card data of the experiment: never to be found anywhere but in the requests.
CARDS = (("4242424242424242", "737"), ("5555555555554444", "906"), ("378282246310005", "4071"))
READ_BACK_ATTEMPTS = 8


def default_faults(processor: str) -> list[FaultRule]:
    """The faults of issue #16: TransactWriteItems failing before and after it commits (an error,
    and a timeout), SendMessage, Publish and the completion update failing or stalling, processor
    containers killed mid-invocation, one cold start failing."""
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
        if not self._thread.is_alive():
            return
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
            transition = _audit_transition(data) if kind == "audit" else data.get("event_id")
            if transition:
                self.counts[kind][transition] += 1
                self.first_seen[kind].setdefault(transition, now)
            self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bool(batch)

    def _read_archive(self) -> bool:
        """The archiver consumes the queue: count its objects (``audit/Y/M/D/<transaction>/…``)."""
        counts: Counter[str] = Counter()
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.archive_bucket, Prefix="audit/"):
                counts.update(_archived_transition(obj["Key"]) for obj in page.get("Contents", []))
        except Exception:
            return False
        now = time.monotonic()
        for transaction_id in counts:
            self.first_seen["audit"].setdefault(transaction_id, now)
        self.counts["audit"] = counts
        return False

    def forget_earlier_work(self) -> None:
        """Whatever earlier work left in the audit queue (or archive) is not this experiment's."""
        while self.archive_bucket is None and self.drain_once("audit"):
            pass
        self.counts["audit"].clear()
        self.first_seen["audit"].clear()
        self.bodies.clear()


def _audit_transition(message: dict[str, Any]) -> str | None:
    """The transition an audit message is about: its transaction id, then ``.<status>`` for every
    status after ``received`` (runtime/transaction_records.py transition_id)."""
    transaction_id = message.get("transaction_id")
    if not transaction_id:
        return None
    kind = str(message.get("type", ""))
    return transaction_id if kind == "transaction.created" else f"{transaction_id}.{kind.removeprefix('transaction.')}"


def _archived_transition(key: str) -> str:
    """The same for an archived object, ``audit/Y/M/D/<transaction>/<type>-<digest>.json``."""
    parts = key.split("/")
    kind = parts[5].rsplit("-", 1)[0] if len(parts) > 5 else "transaction.created"
    return _audit_transition({"transaction_id": parts[4], "type": kind}) or parts[4]


def _transitions(transaction_id: str, status: str) -> list[str]:
    """The transitions a transaction now ``status`` went through, as transition ids."""
    if status == "received":
        return [transaction_id]
    return [
        transaction_id,
        f"{transaction_id}.processing",
        *([f"{transaction_id}.{status}"] if status != "processing" else []),
    ]


def _ours(items: list[dict[str, Any]], transaction_ids: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(every transaction item, the idempotency records of ``transaction_ids``)."""
    records = [i for i in items if i.get("target_transaction_id", {}).get("S") in transaction_ids]
    return [i for i in items if i.get("record_type", {}).get("S") == "transaction"], records


def _created(requests: Sequence[ChaosRequest]) -> dict[str, ChaosRequest]:
    """The answered payments by the transaction their 201 (or 202 processing) named."""
    return {json.loads(r.response)["transaction_id"]: r for r in requests if r.status in (201, 202)}


class PaymentsScenario(ChaosScenario):
    name = "payments"
    success_status = 201
    # Where a connector authorizes payments, an answer whose outcome is not known yet is 202
    # ("processing"): done for the client, its outcome follows (GET /status, the event).
    success_statuses = frozenset({201, 202})

    def __init__(self, deployment: LocalDeployment) -> None:
        self.deployment = deployment
        self.run_id = uuid.uuid4().hex[:8]
        self.processor = deployment.resource_name(TRANSACTION_PROCESSOR)
        self._watch: DeliveryWatch | None = None
        self._tap: str | None = None
        self._subscription: str | None = None
        self._items: list[dict[str, Any]] = []
        self._variables: dict[str, str] | None = None
        self._connector: ConnectorUnderTest | None = None
        self._cards: dict[str, str] = {}  # merchant reference → PAN, in memory only
        self._started_at = ""
        self._ledger: list[dict[str, Any]] = []

    # -- set-up -------------------------------------------------------------------------------
    @property
    def processor_variables(self) -> dict[str, str]:
        if self._variables is None:
            configuration = self.deployment.client("lambda").get_function_configuration(FunctionName=self.processor)
            self._variables = dict(configuration["Environment"]["Variables"])
            self._connector = ConnectorUnderTest.of(self.deployment, self._variables)
        return self._variables

    @property
    def connector(self) -> ConnectorUnderTest | None:
        """The payment connector the processor invokes (None: intake only)."""
        self.processor_variables  # noqa: B018 -- read with the processor's configuration
        return self._connector

    @property
    def _simulated(self) -> bool:
        return self.connector is not None and self.connector.is_simulator

    def faults(self) -> list[FaultRule]:
        return default_faults(self.processor) + self.connector_faults()

    def connector_faults(self) -> list[FaultRule]:
        """The connector's faults alone (none intake only): an experiment can run them apart from
        intake's, to tell which faults a finding needs."""
        connector = self.connector
        return connector.faults(self.processor, f"chaos-{self.run_id}-") if connector else []

    def start(self) -> None:
        client = self.deployment.client
        variables = self.processor_variables
        self._started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.table = variables["TRANSACTIONS_TABLE_NAME"]
        sqs, sns = client("sqs"), client("sns")
        self._tap = sqs.create_queue(QueueName=f"chaos-events-{self.run_id}")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=self._tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._subscription = sns.subscribe(
            TopicArn=variables["NOTIFICATIONS_TOPIC_ARN"],
            Protocol="sqs",
            Endpoint=tap_arn,
            Attributes={"RawMessageDelivery": "true"},
        )["SubscriptionArn"]
        archiver = queue_consumer(self.deployment, variables["AUDIT_QUEUE_URL"])
        archive = archive_bucket(self.deployment, archiver) if archiver else None
        self._watch = DeliveryWatch(sqs, variables["AUDIT_QUEUE_URL"], self._tap, client("s3"), archive)
        self._watch.forget_earlier_work()
        self._watch.start()

    def request(self, number: int, client: str) -> ChaosRequest:
        pan, cvc = CARDS[number % len(CARDS)]
        reference = f"chaos-{self.run_id}-{number}"
        if self._simulated:
            pan, cvc, aim = card_for(number)
            reference = reference if aim == "mix" else f"chaos-{self.run_id}-{aim}-{number}"
            self._cards[reference] = pan
        body = payment_body(reference, pan=pan, cvc=cvc, amount=100 + number)
        return ChaosRequest(client, "POST", "/transactions", body, str(uuid.uuid4()), reference)

    # -- the steady state ---------------------------------------------------------------------
    @property
    def watch(self) -> DeliveryWatch:
        assert self._watch is not None, "start() first"
        return self._watch

    def converged(self, requests: Sequence[ChaosRequest]) -> bool:
        transaction_ids = set(_created(requests))
        seen = self.watch.first_seen
        if not (transaction_ids <= set(seen["audit"]) and transaction_ids <= set(seen["event"])):
            return False
        items = scan(self.deployment.client("dynamodb"), self.table)
        transactions, records = _ours(items, transaction_ids)
        expected = {
            transition
            for t in transactions
            if t["transaction_id"]["S"] in transaction_ids
            for transition in _transitions(t["transaction_id"]["S"], t["status"]["S"])
        }
        if not (expected <= set(seen["audit"]) and expected <= set(seen["event"])):
            return False
        return all("dispatch_pending" not in r and r["dispatch_state"]["S"] == "complete" for r in records)

    def failures(self, requests: Sequence[ChaosRequest]) -> list[str]:
        self.watch.stop()
        created = _created(requests)
        self._items = scan(self.deployment.client("dynamodb"), self.table)
        failures = [
            *self._table_failures(requests, created),
            *self._delivery_failures(created),
            *self._read_back_failures(created),
        ]
        ledger_check = self._ledger_check(created)
        if ledger_check is not None:
            failures += ledger_check.failures()
        failures += [f"card data (PAN or CVC) in {where}" for where in self._card_data_found(requests)]
        reconciled = self.reconciled(set(created))
        # SNS standard topics deliver at least once: an event is published again only when the
        # reconciler or a client's retry re-sent a dispatch the request had finished but could not
        # record (its completion update failed, or its container died after the publish). Anything
        # else is a bug.
        events = self.watch.counts["event"]
        unexplained = [t for t, n in events.items() if n > 1 and t.split(".", 1)[0] in set(created) - reconciled]
        if unexplained:
            failures.append(
                f"{len(unexplained)} duplicate events not explained by a reconciled dispatch: {unexplained[:5]}"
            )
        return failures

    def _table_failures(self, requests: Sequence[ChaosRequest], created: dict[str, ChaosRequest]) -> list[str]:
        failures = []
        transactions, records = _ours(self._items, set(created))
        mine = [t for t in transactions if t["merchant_reference"]["S"].startswith(f"chaos-{self.run_id}-")]
        per_reference = Counter(t["merchant_reference"]["S"] for t in mine)
        doubled = {ref: n for ref, n in per_reference.items() if n > 1}
        if doubled:
            failures.append(f"{len(doubled)} keys with more than one transaction: {sorted(doubled)[:5]}")
        stored = {t["merchant_reference"]["S"]: t["transaction_id"]["S"] for t in mine}
        answered = {request.reference: transaction_id for transaction_id, request in created.items()}
        for request in requests:
            if request.reference in answered and stored.get(request.reference) != answered[request.reference]:
                failures.append(
                    f"{request.reference}: 201 named {answered[request.reference]}, "
                    f"the table {stored.get(request.reference)}"
                )
        unfinished = [
            r["transaction_id"]["S"]
            for r in records
            if "dispatch_pending" in r or r["dispatch_state"]["S"] != "complete" or "dispatch_quarantined" in r
        ]
        if unfinished:
            failures.append(f"{len(unfinished)} idempotency records not complete (dispatching/quarantined)")
        quarantined = [i["transaction_id"]["S"] for i in self._items if "dispatch_quarantined" in i]
        if quarantined:
            failures.append(f"{len(quarantined)} records quarantined anywhere in the table")
        return failures

    def _delivery_failures(self, created: dict[str, ChaosRequest]) -> list[str]:
        failures = []
        watch = self.watch
        audit_label = "archived audit objects" if watch.archive_bucket else "audit messages"
        statuses = {
            t["transaction_id"]["S"]: t["status"]["S"]
            for t in self._items
            if t.get("record_type", {}).get("S") == "transaction" and t["transaction_id"]["S"] in created
        }
        # One audit message and one distinct event per transition the transaction went through.
        transitions = [x for t in created for x in _transitions(t, statuses.get(t, "received"))]
        unsettled = [t for t, status in statuses.items() if status == "processing"]
        if unsettled:
            failures.append(f"{len(unsettled)} transactions left processing: {unsettled[:5]}")
        for kind, label in (("audit", audit_label), ("event", "distinct events")):
            missing = [t for t in transitions if watch.counts[kind][t] == 0]
            if missing:
                failures.append(f"{len(missing)} transitions without {label}: {missing[:5]}")
        doubled_audit = {t: n for t, n in watch.counts["audit"].items() if t in transitions and n > 1}
        if doubled_audit:
            failures.append(f"{len(doubled_audit)} transitions with more than one of their {audit_label}")
        strangers = [t for t in watch.counts["audit"] if t.split(".", 1)[0] not in created and not watch.archive_bucket]
        if strangers:
            failures.append(f"{len(strangers)} audit messages for transactions no client was told of: {strangers[:5]}")
        return failures

    def _read_back_failures(self, created: dict[str, ChaosRequest]) -> list[str]:
        failures = []
        keys = self.deployment.api_keys
        for transaction_id, request in created.items():
            # Read back as an SDK would: a 429/503 (the method throttle, a busy function) is retried.
            for attempt in range(READ_BACK_ATTEMPTS):
                answer = self.deployment.request(
                    "GET", f"/status?transaction_id={transaction_id}", headers={"x-api-key": keys[request.client]}
                )
                if answer.status not in (429, 503):
                    break
                time.sleep(min(2.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0))
            answered = json.loads(request.response)
            if answered.get("status") in ("received", "processing") and request.status == 202 and answer.status == 200:
                # Answered before its outcome: it reads back with the outcome, the rest as answered.
                answered = answer.json() | {k: v for k, v in answered.items() if k != "status"}
            if answer.status != 200 or answer.json() != answered:
                failures.append(f"{transaction_id} reads back {answer.status}, not as its 201")
        return failures

    def _ledger_check(self, created: dict[str, ChaosRequest]) -> LedgerCheck | None:
        """The connector's steady state (the acquirer simulator's ledger), None for another connector."""
        connector = self.connector
        if connector is None or connector.ledger_table is None:
            return None
        transactions = {
            t["transaction_id"]["S"]: t
            for t in self._items
            if t.get("record_type", {}).get("S") == "transaction" and t["transaction_id"]["S"] in created
        }
        amounts = {int(t["amount"]["N"]): transaction_id for transaction_id, t in transactions.items()}
        if not self._ledger:
            # The run's entries: under its transactions' keys, or for its payments' amounts (a
            # second authorization under another key) -- not what earlier payments' settling wrote.
            self._ledger = [
                i
                for i in scan(self.deployment.client("dynamodb"), connector.ledger_table)
                if i.get("recorded_at", {}).get("S", "") >= self._started_at
                and (i["idempotency_key"]["S"] in transactions or int(i.get("amount", {}).get("N", -1)) in amounts)
            ]
        return LedgerCheck(
            transactions=transactions,
            cards={t: self._cards[created[t].reference] for t in transactions},
            amounts=amounts,
            ledger=self._ledger,
        )

    def _log_group_lines(self, function: str) -> list[str]:
        logs, lines, token = self.deployment.client("logs"), [], None
        while True:
            page = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{function}", **({"nextToken": token} if token else {})
            )
            lines += [event["message"] for event in page["events"]]
            token = page.get("nextToken")
            if not token or not page["events"]:
                return lines

    def _card_data_found(self, requests: Sequence[ChaosRequest]) -> list[str]:
        """Where card data is: the table, a message or event, a response, a line of a log -- each
        shown masked (mask_text), so the failure names the place without repeating the data."""
        connector = self.connector
        sources: list[tuple[str, list[str]]] = [
            ("the table", list(item_strings(self._items))),
            ("an audit message or event", self.watch.bodies),
            ("a response", [r.response for r in requests]),
            *(
                [
                    ("the connector's log group", self._log_group_lines(connector.function)),
                    ("the connector's ledger", list(item_strings(self._ledger))),
                ]
                if connector is not None
                else []
            ),
            *((name, text.splitlines()) for name, text in sorted(self.deployment.service_logs().items())),
        ]
        found = []
        for source, texts in sources:
            for number, text in enumerate(texts, 1):
                if contains_card_data(text):
                    where = f"{source} line {number}" if source.endswith(".log") else source
                    masked = mask_text(text)
                    # Shown only where the mask took the card data out; else only the place.
                    found.append(f"{where}: {masked[:300]}" if masked != text else where)
                    break
        return found

    def reconciled(self, transaction_ids: set[str]) -> set[str]:
        """Which of the experiment's transactions had a dispatch taken over (their log lines): by the
        reconciler -- completed, or left for its outcome -- or by a client's retry resuming it
        (``outcome: dispatch_completed``), each re-sending what the cut-short request had not recorded."""
        marks = {
            TRANSACTION_RECONCILER: ('"reconciler.dispatch_completed"', '"reconciler.outcome_unknown"'),
            TRANSACTION_PROCESSOR: ('"outcome":"dispatch_completed"', '"outcome": "dispatch_completed"'),
        }
        logs = self.deployment.client("logs")
        done: set[str] = set()
        for function, wanted in marks.items():
            group = f"/aws/lambda/{self.deployment.resource_name(function)}"
            token = None
            while True:
                page = logs.filter_log_events(logGroupName=group, **({"nextToken": token} if token else {}))
                for event in page["events"]:
                    if any(mark in event["message"] for mark in wanted):
                        transaction_id = json.loads(event["message"]).get("transaction_id")
                        if transaction_id in transaction_ids:
                            done.add(transaction_id)
                token = page.get("nextToken")
                if not token or not page["events"]:
                    break
        return done

    # -- figures ------------------------------------------------------------------------------
    def figures(self, requests: Sequence[ChaosRequest]) -> dict[str, Any]:
        created = _created(requests)
        seen = self.watch.first_seen
        converge = sorted(
            max(seen["audit"][t], seen["event"][t]) - created[t].started
            for t in created
            if t in seen["audit"] and t in seen["event"]
        )
        events = Counter({t: n for t, n in self.watch.counts["event"].items() if t.split(".", 1)[0] in created})
        return {
            "converge_p50_s": round(statistics.median(converge), 2) if converge else None,
            "converge_max_s": round(converge[-1], 2) if converge else None,
            "audit_messages": sum(n for t, n in self.watch.counts["audit"].items() if t.split(".", 1)[0] in created),
            "events": sum(events.values()),
            "duplicate_events": sum(n - 1 for n in events.values() if n > 1),
            "reconciled_by_reconciler": len(self.reconciled(set(created))),
            **(ledger_check.figures() if (ledger_check := self._ledger_check(created)) is not None else {}),
            **({"connector_function": self.connector.function} if self.connector is not None else {}),
            "audit_counted_in": (
                f"archive bucket {self.watch.archive_bucket}" if self.watch.archive_bucket else "audit FIFO queue"
            ),
        }

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.stop()
        if self._subscription:
            self.deployment.client("sns").unsubscribe(SubscriptionArn=self._subscription)
            self._subscription = None
        if self._tap:
            self.deployment.client("sqs").delete_queue(QueueUrl=self._tap)
            self._tap = None
