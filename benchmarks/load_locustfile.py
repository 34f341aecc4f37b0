"""Locust users for benchmarks/load_test.py (not run on its own): a mix of new payments,
immediate replays, conflicting keys and status reads against the local gateway. Every response
is classified and every 201 recorded, so load_test.py can check -- not just time -- the run.

Settings come from the environment load_test.py sets: LOAD_API_KEYS (comma-separated),
LOAD_RESULTS (where the outcome JSON goes when the run stops)."""

from __future__ import annotations

import json
import os
import random
import string
import threading
import time
import uuid
from collections import Counter

from locust import HttpUser, between, events, task

from payments_platform.runtime.redaction import contains_card_data

TEST_PAN = "4242424242424242"
TEST_CVC = "737"
API_KEYS = [key for key in os.environ.get("LOAD_API_KEYS", "").split(",") if key]

_lock = threading.Lock()
outcomes: Counter[str] = Counter()
created: dict[str, str] = {}  # "<api key>/<idempotency key>" -> transaction id of its first 201
replayed: list[tuple[str, str]] = []  # (key, transaction id) of every 201 replay
card_data_seen: list[str] = []


def body(reference: str, amount: int = 1999) -> str:
    return json.dumps(
        {
            "amount": amount,
            "currency": "EUR",
            "merchant_reference": reference,
            "card": {"number": TEST_PAN, "exp_month": 12, "exp_year": time.gmtime().tm_year + 3, "cvc": TEST_CVC},
        }
    )


def reference() -> str:
    """A merchant reference without digits: 12 random hex digits are all decimal and Luhn-valid
    about once in 2,800 references, and the API rightly rejects such a PAN-like reference (400)."""
    return "load-" + "".join(random.choices(string.ascii_lowercase, k=12))


def classify(response) -> str:
    status = response.status_code
    if status == 500 and response.headers.get("x-amzn-errortype"):
        # The gateway's own 500 (the function never answered): Lambda throttled the invoke.
        return "500 throttled"
    if status == 503 and response.headers.get("Retry-After"):
        return "503 retry-after"
    if status == 429 and response.headers.get("Retry-After"):
        # More of one client's requests at once than its usage plan's burst (docs/CAPACITY.md).
        return "429 retry-after"
    return str(status)


def record(name: str, response) -> str:
    kind = classify(response)
    text = response.text or ""
    with _lock:
        outcomes[f"{name}|{kind}"] += 1
        if contains_card_data(text):
            card_data_seen.append(name)
    return kind


class PaymentClient(HttpUser):
    wait_time = between(1, 2)

    def on_start(self) -> None:
        self.api_key = random.choice(API_KEYS)
        self.mine: list[tuple[str, str, str]] = []  # (idempotency key, body, transaction id)

    def post(self, name: str, key: str, payload: str):
        with self.client.post(
            "/transactions",
            data=payload,
            headers={"x-api-key": self.api_key, "Idempotency-Key": key, "Content-Type": "application/json"},
            name=name,
            catch_response=True,
        ) as response:
            kind = record(name, response)
            # Expected outcomes are successes for locust's figures; load_test.py judges the rest.
            response.success() if kind[0] in "24" or kind.startswith("503") else response.failure(kind)
            return response, kind

    @task(4)
    def new_payment(self) -> None:
        key, payload = str(uuid.uuid4()), body(reference())
        response, kind = self.post("new payment", key, payload)
        if kind == "201":
            transaction_id = response.json()["transaction_id"]
            with _lock:
                created[f"{self.api_key}/{key}"] = transaction_id
            self.mine.append((key, payload, transaction_id))
            if random.random() < 0.5:
                self.immediate_replay(key, payload, transaction_id)

    def immediate_replay(self, key: str, payload: str, transaction_id: str) -> None:
        response, kind = self.post("immediate replay", key, payload)
        if kind == "201":
            with _lock:
                replayed.append((f"{self.api_key}/{key}", response.json()["transaction_id"]))

    @task(1)
    def conflicting_key(self) -> None:
        if self.mine:
            key, _, _ = random.choice(self.mine)
            self.post("conflicting key", key, body("load-conflict", amount=2999))

    @task(3)
    def status_read(self) -> None:
        if not self.mine:
            return
        _, _, transaction_id = random.choice(self.mine)
        with self.client.get(
            f"/status?transaction_id={transaction_id}",
            headers={"x-api-key": self.api_key},
            name="status read",
            catch_response=True,
        ) as response:
            kind = record("status read", response)
            response.success() if kind[0] in "24" or kind.startswith("503") else response.failure(kind)


@events.test_stop.add_listener
def write_results(environment, **kwargs) -> None:
    path = os.environ.get("LOAD_RESULTS")
    if not path:
        return
    total = environment.stats.total
    with _lock:
        result = {
            "outcomes": dict(outcomes),
            "created": created,
            "replayed": replayed,
            "card_data_seen": card_data_seen,
            "requests": total.num_requests,
            "rps": total.total_rps,
            "p50_ms": total.get_response_time_percentile(0.5),
            "p95_ms": total.get_response_time_percentile(0.95),
            "p99_ms": total.get_response_time_percentile(0.99),
            "by_name": {
                name: {
                    "requests": entry.num_requests,
                    "p50_ms": entry.get_response_time_percentile(0.5),
                    "p95_ms": entry.get_response_time_percentile(0.95),
                    "p99_ms": entry.get_response_time_percentile(0.99),
                }
                for (name, _method), entry in environment.stats.entries.items()
            },
        }
    with open(path, "w") as handle:
        json.dump(result, handle)
