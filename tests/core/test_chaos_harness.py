"""core/testing/chaos.py without a deployment: a real HTTP server that fails each request's first
attempt, a scenario of this test's own -- the harness retries under one key, declares and clears
the scenario's faults, waits for convergence and reports what the scenario found."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from payments_platform.core import ChaosRequest, ChaosScenario, FaultRule, LocalDeployment
from payments_platform.core.local.faults import read_rules
from payments_platform.core.testing.chaos import Experiment, run_experiment


class FlakyApi(BaseHTTPRequestHandler):
    """503 on the first attempt of each Idempotency-Key, then 201 naming the key."""

    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        key = self.headers["Idempotency-Key"]
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.seen[key] += 1
            first = self.seen[key] == 1
        status, body = (503, b"{}") if first else (201, json.dumps({"order": key}).encode())
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    FlakyApi.seen = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prod"
    server.shutdown()


class Orders(ChaosScenario):
    name = "orders"
    success_status = 201

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.rules_during_load: list[str] = []
        self.calls: list[str] = []

    def faults(self) -> list[FaultRule]:
        return [FaultRule("error", "dynamodb", "PutItem", error="throttling", probability=0.5)]

    def start(self) -> None:
        self.calls.append("start")

    def request(self, number: int, client: str) -> ChaosRequest:
        self.rules_during_load = [rule.kind for rule in read_rules(self.run_dir)]
        return ChaosRequest(client, "POST", "/orders", b"{}", f"key-{number}", f"order-{number}")

    def converged(self, requests: Sequence[ChaosRequest]) -> bool:
        return all(r.status == 201 for r in requests)

    def failures(self, requests: Sequence[ChaosRequest]) -> list[str]:
        return [f"{r.reference} lost" for r in requests if json.loads(r.response) != {"order": r.idempotency_key}]

    def figures(self, requests: Sequence[ChaosRequest]) -> dict[str, Any]:
        return {"orders": len(requests)}

    def stop(self) -> None:
        self.calls.append("stop")


def test_the_harness_retries_under_one_key_clears_its_faults_and_reports(api: str, tmp_path: Path):
    deployment = LocalDeployment(
        "local", "t", "us-east-1", "http://127.0.0.1:1", api, {"a": "ka", "b": "kb"}, tmp_path, lambda _: None
    )
    scenario = Orders(tmp_path)
    report = run_experiment(Experiment(deployment, scenario, requests=6, backoff_base_s=0.01, converge_timeout_s=5))
    assert report.failures == []
    assert dict(FlakyApi.seen) == {f"key-{n}": 2 for n in range(6)}  # one retry each, same key
    assert report.retries == Counter({"503": 6}) and report.outcomes == Counter({"201": 6})
    assert {r.client for r in report.requests} == {"a", "b"}
    assert scenario.rules_during_load == [] and read_rules(tmp_path) == []  # added after the requests are built
    assert scenario.calls == ["start", "stop"]
    assert report.converged_after_load_seconds is not None
    assert report.figures()["orders"] == 6 and report.figures()["requests"] == 6


def test_requests_never_answered_are_a_failure_and_the_scenario_is_stopped(tmp_path: Path):
    deployment = LocalDeployment(
        "local",
        "t",
        "us-east-1",
        "http://127.0.0.1:1",
        "http://127.0.0.1:9/prod",
        {"a": "ka"},
        tmp_path,
        lambda _: None,
    )

    class Nothing(Orders):
        def failures(self, requests: Sequence[ChaosRequest]) -> list[str]:
            return []

    scenario = Nothing(tmp_path)
    report = run_experiment(
        Experiment(deployment, scenario, requests=2, max_attempts=2, backoff_base_s=0.01, converge_timeout_s=0)
    )
    assert report.failures == ["requests without a 201 after 2 attempts: {'0': 2}"]
    assert report.retries == Counter({"timeout": 4}) and scenario.calls == ["start", "stop"]
