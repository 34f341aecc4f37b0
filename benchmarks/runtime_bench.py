"""Runtime benchmark: cold import time of each handler module and per-request overhead with
stubbed AWS clients (no network). Plain script, no pytest needed:

    .venv/bin/python benchmarks/runtime_bench.py [--imports 15] [--requests 3000]

The runtime is copied into a temporary directory as ``payments_runtime`` -- the layout the api
plugin zips -- so the import measured is the one Lambda performs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[1] / "runtime"
HANDLER_MODULES = ("payments_runtime.transactions", "payments_runtime.status")

IMPORT_PROBE = """
import sys, time
t = time.perf_counter()
import {module}
elapsed = (time.perf_counter() - t) * 1000
t = time.perf_counter()
from payments_runtime.aws_clients import client
for service in ("dynamodb", "sqs", "sns"):
    client(service)
clients = (time.perf_counter() - t) * 1000
print(elapsed, clients)
"""

ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "TRANSACTIONS_TABLE_NAME": "bench-transactions",
    "AUDIT_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/bench-audit.fifo",
    "NOTIFICATIONS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:bench-events",
    "CARD_FINGERPRINT_KEY": "ab" * 32,
    "ENVIRONMENT": "bench",
    "LOG_LEVEL": "INFO",
    "AWS_LAMBDA_FUNCTION_NAME": "bench-function",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
}


def package(into: Path) -> Path:
    shutil.copytree(RUNTIME, into / "payments_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    # Lambda imports from precompiled bytecode only if it is in the zip; the api plugin ships
    # sources, so the first cold start also compiles. Warm the bytecode cache once to measure
    # the import itself, which is what repeated cold starts in one container image see.
    subprocess.run(
        [sys.executable, "-c", "import payments_runtime.transactions, payments_runtime.status"],
        cwd=into,
        check=True,
        env={**os.environ, **ENV, "PYTHONPATH": str(into)},
    )
    return into


def measure_imports(root: Path, runs: int) -> dict[str, dict[str, float]]:
    results = {}
    for module in HANDLER_MODULES:
        imports, clients = [], []
        for _ in range(runs):
            output = subprocess.run(
                [sys.executable, "-c", IMPORT_PROBE.format(module=module)],
                cwd=root,
                env={**os.environ, **ENV, "PYTHONPATH": str(root)},
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            imports.append(float(output[0]))
            clients.append(float(output[1]))
        results[module] = {
            "import_median_ms": statistics.median(imports),
            "import_max_ms": max(imports),
            "first_clients_median_ms": statistics.median(clients),
        }
    return results


class StubDynamoDB:
    def __init__(self, item):
        self._item = item

    def transact_write_items(self, **kwargs):
        return {}

    def update_item(self, **kwargs):
        return {}

    def query(self, **kwargs):
        return {"Items": [self._item]}


class StubSQS:
    def send_message(self, **kwargs):
        return {"MessageId": "m"}


class StubSNS:
    def publish(self, **kwargs):
        return {"MessageId": "m"}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure_requests(root: Path, requests: int) -> dict[str, dict[str, float]]:
    os.environ.update(ENV)
    sys.path.insert(0, str(root))
    from payments_runtime import aws_clients, status, transactions  # noqa: E402

    year = date.today().year + 1
    body = json.dumps(
        {
            "amount": 1250,
            "currency": "EUR",
            "merchant_reference": "order-1001",
            "description": "Two coffees and a croissant",
            "metadata": {"table": "7", "waiter": "w-12"},
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": year, "cvc": "123"},
        }
    )

    def event(method, key=None, query=None, payload=body):
        return {
            "httpMethod": method,
            "headers": {"Content-Type": "application/json", "Idempotency-Key": key} if key else {},
            "multiValueHeaders": None,
            "queryStringParameters": query,
            "body": payload if method == "POST" else None,
            "isBase64Encoded": False,
            "requestContext": {"requestId": f"req-{key or 'status'}", "identity": {"apiKeyId": "bench-client"}},
        }

    class Context:
        function_name = "bench-function"
        aws_request_id = "bench"

        def get_remaining_time_in_millis(self):
            return 10_000

    item = {
        "transaction_id": {"S": "txn_aaaaaaaaaaaaaaaaaaaaaaaa"},
        "timestamp": {"N": "1700000000000"},
        "record_type": {"S": "transaction"},
        "client_id": {"S": "apikey:bench-client"},
        "status": {"S": "received"},
        "amount": {"N": "1250"},
        "currency": {"S": "EUR"},
        "merchant_reference": {"S": "order-1001"},
        "card_brand": {"S": "visa"},
        "card_last4": {"S": "4242"},
        "card_fingerprint": {"S": "cfp_x"},
        "created_at": {"S": "2023-11-14T22:13:20.000Z"},
    }
    aws_clients._clients.update({"dynamodb": StubDynamoDB(item), "sqs": StubSQS(), "sns": StubSNS()})
    context = Context()
    scenarios = {
        "POST /transactions 201 (validate, HMACs, 4 stubbed calls, audit log)": lambda i: transactions.handler(
            event("POST", f"k{i}"), context
        ),
        "POST /transactions 400 (Luhn failure)": lambda i: transactions.handler(
            event("POST", f"k{i}", payload=body.replace("4242424242424242", "4242424242424241")), context
        ),
        "GET /status 200 (one stubbed query, audit log)": lambda i: status.handler(
            event("GET", query={"transaction_id": "txn_aaaaaaaaaaaaaaaaaaaaaaaa"}), context
        ),
    }
    expected = [201, 400, 200]
    results = {}
    sink = io.StringIO()
    for (name, call), status_code in zip(scenarios.items(), expected):
        with contextlib.redirect_stdout(sink):
            for i in range(200):  # warm-up
                assert call(-i - 1)["statusCode"] == status_code
            timings = []
            for i in range(requests):
                started = time.perf_counter()
                call(i)
                timings.append((time.perf_counter() - started) * 1000)
                if i % 500 == 0:
                    sink.seek(0)
                    sink.truncate()
        results[name] = {
            "median_ms": statistics.median(timings),
            "p95_ms": percentile(timings, 0.95),
            "p99_ms": percentile(timings, 0.99),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imports", type=int, default=15, help="fresh interpreters per handler module")
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = package(Path(tmp))
        imports = measure_imports(root, args.imports)
        requests = measure_requests(root, args.requests)
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPU(s)")
    print(f"\nCold import (fresh interpreter, {args.imports} runs each; budget 300 ms)")
    print(f"{'module':34} {'median ms':>10} {'max ms':>8} {'first 3 clients ms':>19}")
    for module, row in imports.items():
        print(
            f"{module:34} {row['import_median_ms']:10.1f} {row['import_max_ms']:8.1f} {row['first_clients_median_ms']:19.1f}"
        )
    print(f"\nPer-request overhead with stubbed AWS clients ({args.requests} requests each; budget 2 ms median)")
    print(f"{'scenario':72} {'median':>7} {'p95':>7} {'p99':>7}")
    for name, row in requests.items():
        print(f"{name:72} {row['median_ms']:7.3f} {row['p95_ms']:7.3f} {row['p99_ms']:7.3f}")


if __name__ == "__main__":
    main()
