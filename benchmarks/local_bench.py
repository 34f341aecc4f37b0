"""How fast the payment API comes up on this machine, answers, and goes away.

    .venv/bin/python benchmarks/local_bench.py [--cycles N] [--requests N]

Each cycle, in a fresh run directory: `local up` (its own code, steps timed) until the first
request is served; the first POST and GET (cold starts of each function's first container); then
``--requests`` warm POSTs (new payments) and GETs, one at a time, through the local gateway; then
`local down`. Prints every figure and the medians over the cycles; BENCHMARKS.md records them.
Loopback only, bounded by ``--cycles`` x ``--requests``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def cycle(requests: int) -> dict[str, float]:
    from payments_platform.core.deployment_checks import http_request as request
    from payments_platform.core.local.lifecycle import LocalRun, down, up
    from payments_platform.plugins.api.local_checks import payment_body

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="local-bench-") as scratch:
        run = LocalRun(Path(scratch) / ".payments-local", say=lambda line: None)
        started = time.perf_counter()
        record = up(run, config_path=str(REPO / "environments.toml"))
        key = sorted(record.api_keys.values())[0]

        def post() -> tuple[float, str]:
            t = time.perf_counter()
            response = request(
                "POST",
                f"{record.url}/transactions",
                body=payment_body("bench"),
                headers={"Content-Type": "application/json", "x-api-key": key, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert response.status == 201, response.body
            return (time.perf_counter() - t) * 1000, response.json()["transaction_id"]

        def get(transaction_id: str) -> float:
            t = time.perf_counter()
            response = request(
                "GET", f"{record.url}/status?transaction_id={transaction_id}", headers={"x-api-key": key}
            )
            assert response.status == 200, response.body
            return (time.perf_counter() - t) * 1000

        figures["cold POST ms"], transaction_id = post()
        figures["up to first request served s"] = time.perf_counter() - started
        figures["cold GET ms"] = get(transaction_id)
        for step, seconds in run.timings.items():
            figures[f"  step: {step} s"] = seconds
        posts = [post()[0] for _ in range(requests)]
        gets = [get(transaction_id) for _ in range(requests)]
        figures["warm POST median ms"] = statistics.median(posts)
        figures["warm POST p95 ms"] = percentile(posts, 0.95)
        figures["warm GET median ms"] = statistics.median(gets)
        figures["warm GET p95 ms"] = percentile(gets, 0.95)
        started = time.perf_counter()
        down(run)
        figures["down s"] = time.perf_counter() - started
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    results = []
    for number in range(1, args.cycles + 1):
        figures = cycle(args.requests)
        results.append(figures)
        print(f"cycle {number}:")
        for name, value in figures.items():
            print(f"  {name:<70} {value:9.1f}")
    if len(results) > 1:
        print(f"median over {len(results)} cycles:")
        for name in results[0]:
            print(f"  {name:<70} {statistics.median(r[name] for r in results):9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
