"""A chaos experiment on a running local deployment: requests from clients that behave like real
SDKs while faults hit the deployment's AWS calls and containers (core/local/faults.py), then the
wait for the deployment to converge -- and the steady state checked, not assumed.

What to send, what to break and what the steady state is are the scenario's: a plugin registers
it through ``payments_chaos_scenarios`` (core/hookspec.py; the api plugin's is payments under the
faults of issue #16). The core runs the load, injects and clears the faults and reports::

    deployment = local_deployment(run_dir, record)
    scenario = chaos_scenario(deployment, config_path)
    report = run_experiment(Experiment(deployment, scenario))
    assert not report.failures, report.failures

Used by tests/e2e/test_chaos.py (bounded for CI) and benchmarks/chaos_bench.py (figures).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payments_platform.core.deployment_checks import ChaosRequest, ChaosScenario, LocalDeployment, http_request
from payments_platform.core.errors import ConfigError
from payments_platform.core.fault_rules import FaultRule
from payments_platform.core.local.api_hooks import deployed_plugins
from payments_platform.core.local.faults import add_fault, clear_faults, read_hits

CONVERGENCE_POLL_S = 2.0
Say = Callable[[str], None]


@dataclass
class Experiment:
    deployment: LocalDeployment
    scenario: ChaosScenario
    requests: int = 200
    threads_per_client: int = 2
    faults: Sequence[FaultRule] | None = None  # None: the scenario's
    client_timeout_s: float = 12.0
    max_attempts: int = 20
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 4.0
    converge_timeout_s: float = 150.0
    seed: int | None = None


@dataclass
class Report:
    requests: list[ChaosRequest]
    faults_by_kind: Counter[str]
    faults_by_target: Counter[str]
    retries: Counter[str]
    outcomes: Counter[str]
    load_seconds: float
    converged_after_load_seconds: float | None
    failures: list[str]
    scenario_figures: dict[str, Any]
    hits: list[dict[str, Any]]  # every fault hit of the run (core/local/faults.py), as logged

    def figures(self) -> dict[str, Any]:
        return {
            "requests": len(self.requests),
            "clients": len({r.client for r in self.requests}),
            "faults_by_kind": dict(self.faults_by_kind),
            "faults_by_target": dict(self.faults_by_target),
            "client_retries": dict(self.retries),
            "client_retries_total": sum(self.retries.values()),
            "outcomes": dict(self.outcomes),
            "load_seconds": round(self.load_seconds, 1),
            "converged_after_load_s": self.converged_after_load_seconds,
            **self.scenario_figures,
            "failures": self.failures,
        }


def chaos_scenario(
    deployment: LocalDeployment, config_path: str | Path | None = None, name: str | None = None
) -> ChaosScenario:
    """The scenario ``name`` the deployed environment's plugins register (the only one, if unnamed)."""
    scenarios = deployed_plugins(config_path, deployment.environment).chaos_scenarios(deployment)
    if name is None and len(scenarios) == 1:
        return next(iter(scenarios.values()))
    if name not in scenarios:
        known = ", ".join(sorted(scenarios)) or "none"
        raise ConfigError(f"no chaos scenario {name!r} in environment '{deployment.environment}' (registered: {known})")
    return scenarios[name]


class SdkClient:
    """What a real SDK does: one Idempotency-Key per request, the same key on every retry of a
    retried status or a timeout, exponential back-off with full jitter (at least Retry-After)."""

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

    def send(self, request: ChaosRequest) -> ChaosRequest:
        experiment = self._experiment
        headers = {"x-api-key": self.api_key, "Content-Type": "application/json"}
        headers["Idempotency-Key"] = request.idempotency_key
        request.started = time.monotonic()
        for attempt in range(experiment.max_attempts):
            request.attempts = attempt + 1
            try:
                answer = http_request(
                    request.method,
                    experiment.deployment.url + request.path,
                    headers=headers,
                    body=request.body,
                    timeout_s=experiment.client_timeout_s,
                )
                status, retry_after, request.response = answer.status, answer.headers.get("retry-after"), answer.text
            except (TimeoutError, OSError):
                status, retry_after, request.response = 0, None, ""
            request.status = status
            if status not in experiment.scenario.retried_statuses and status != 0:
                break
            request.retries["timeout" if status == 0 else str(status)] += 1
            self._sleep_before(attempt, retry_after)
        request.answered = time.monotonic()
        return request


def run_experiment(experiment: Experiment, say: Say = lambda _line: None) -> Report:
    scenario, run_dir = experiment.scenario, experiment.deployment.run_dir
    rng = random.Random(experiment.seed)
    run_id = uuid.uuid4().hex[:8]
    clients = [
        SdkClient(experiment, name, key, random.Random(rng.random()))
        for name, key in sorted(experiment.deployment.api_keys.items())
    ]
    by_name = {client.name: client for client in clients}
    rules = list(experiment.faults if experiment.faults is not None else scenario.faults())
    try:
        scenario.start()
        requests = [scenario.request(n, clients[n % len(clients)].name) for n in range(experiment.requests)]
        hits_before = len(read_hits(run_dir))
        for rule in rules:
            add_fault(run_dir, rule)
        say(
            f"chaos {run_id} ({scenario.name}): {len(requests)} requests from {len(clients)} clients, {len(rules)} faults"
        )
        load_started = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=len(clients) * experiment.threads_per_client) as pool:
                list(pool.map(lambda r: by_name[r.client].send(r), requests))
        finally:
            clear_faults(run_dir, [rule.id for rule in rules])
        load_ended = time.monotonic()
        say(f"chaos {run_id}: load done in {load_ended - load_started:.1f} s; waiting for convergence")
        converged_at = _wait_for_convergence(experiment, requests)
        hits = read_hits(run_dir)[hits_before:]
        failures = _unanswered(experiment, requests) + scenario.failures(requests)
        figures = scenario.figures(requests)
    finally:
        scenario.stop()
    return Report(
        requests=requests,
        faults_by_kind=Counter(hit["kind"] for hit in hits),
        faults_by_target=Counter(f"{hit['service']}:{hit['action']}" for hit in hits),
        retries=sum((r.retries for r in requests), Counter()),
        outcomes=Counter(str(r.status) for r in requests),
        load_seconds=load_ended - load_started,
        converged_after_load_seconds=None if converged_at is None else round(converged_at - load_ended, 1),
        failures=failures,
        scenario_figures=figures,
        hits=hits,
    )


def _wait_for_convergence(experiment: Experiment, requests: list[ChaosRequest]) -> float | None:
    deadline = time.monotonic() + experiment.converge_timeout_s
    while time.monotonic() < deadline:
        if experiment.scenario.converged(requests):
            return time.monotonic()
        time.sleep(CONVERGENCE_POLL_S)
    return None


def _unanswered(experiment: Experiment, requests: list[ChaosRequest]) -> list[str]:
    scenario = experiment.scenario
    success = scenario.success_statuses or frozenset({scenario.success_status})
    unanswered = Counter(str(r.status) for r in requests if r.status not in success)
    if not unanswered:
        return []
    named = " or ".join(str(s) for s in sorted(success))
    return [f"requests without a {named} after {experiment.max_attempts} attempts: {dict(unanswered)}"]
