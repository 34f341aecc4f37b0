"""POST /transactions with a payment connector, beside intake only (issue #28), in one run.

    .venv/bin/python benchmarks/connector_bench.py [--requests 200] [--latency-ms 300]

In a scratch directory holding a copy of environments.toml:
1. ``local up`` of ``local`` (the acquirer simulator enabled, its ``latency_ms`` 0);
2. per configuration, applied by the watcher's infrastructure reload (core/local/watch.py: synth,
   ``terraform apply``, the gateway told -- as an edit of environments.toml under ``local up
   --watch`` is), then 5 warm-up POSTs, then ``--requests`` POSTs one at a time (a new payment and
   Idempotency-Key each, card 4242424242424242: authorized), timed at the client over HTTP:
     a. the simulator at 0 ms,
     b. the simulator at ``--latency-ms`` (its ``latency_ms`` setting),
     c. intake only (``acquirer-simulator`` taken out of ``enable``: no connector);
3. ``local down``.
Prints p50/p99 per configuration, the ratios of the medians to intake only, and the load average
(``os.getloadavg``, as ``uptime`` shows it) before and after each measurement. Heavy: run it in
the lock (``flock /tmp/heavy.lock``) with nothing else heavy running.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WARM_UP = 5
SIMULATOR = "acquirer-simulator"


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def with_latency(config: str, latency_ms: int) -> str:
    """``config`` with the simulator's latency_ms in ``local`` (its settings table added or replaced)."""
    table = f"[environments.local.settings.{SIMULATOR}]"
    config = re.sub(rf"\n{re.escape(table)}\nlatency_ms = \d+\n", "\n", config)
    return config + f"\n{table}\nlatency_ms = {latency_ms}\n"


def intake_only(config: str) -> str:
    """``config`` with no connector enabled in ``local``."""
    config, swapped = re.subn(
        r'(\[environments\.local\]\n(?:[^\[]*\n)*?)enable = \["acquirer-simulator"\]\n', r"\1", config
    )
    if swapped != 1:
        raise SystemExit("local's enable line moved: update benchmarks/connector_bench.py")
    return re.sub(rf"\n\[environments\.local\.settings\.{SIMULATOR}\]\nlatency_ms = \d+\n", "\n", config)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=300)
    args = parser.parse_args()

    from payments_platform.core.deployment_checks import http_request as request
    from payments_platform.core.local import watch
    from payments_platform.core.local.lifecycle import down, up
    from payments_platform.core.local.run_record import LocalRun
    from payments_platform.core.ops.terraform import Terraform
    from payments_platform.plugins.api.local_checks import payment_body

    print(f"start: load average {load()}, {os.cpu_count()} CPUs", flush=True)
    results: dict[str, dict[str, float | str]] = {}
    with tempfile.TemporaryDirectory(prefix="connector-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        config = scratch / "environments.toml"
        original = (REPO / "environments.toml").read_text()
        config.write_text(with_latency(original, 0))
        run = LocalRun(scratch / ".payments-local", say=lambda line: print(f"  | {line}", flush=True))
        record = up(run, config_path=str(config))
        try:
            key = sorted(record.api_keys.values())[0]
            loop = watch.DevLoop(
                run_dir=run.run_dir,
                endpoint=record.endpoint or "",
                region=record.region,
                stack_dir=Path(record.stack_dir or ""),
                config_path=config,
                environment_name=record.environment,
                terraform=Terraform.locate(run.run_dir),
                search=(REPO,),  # the deployed runtime package's sources
                say=lambda line: print(f"  | {line}", flush=True),
                build_cache_dir=scratch / "build",
            )

            def post(expected: str) -> float:
                started = time.perf_counter()
                answer = request(
                    "POST",
                    f"{record.url}/transactions",
                    body=payment_body(f"bench-{uuid.uuid4().hex[:8]}"),
                    headers={
                        "Content-Type": "application/json",
                        "x-api-key": key,
                        "Idempotency-Key": str(uuid.uuid4()),
                    },
                )
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status != 201 or answer.json()["status"] != expected:
                    raise SystemExit(f"POST answered {answer.status} {answer.text[:200]}, expected 201 {expected}")
                return elapsed

            plan = [
                ("simulator 0 ms", None, "authorized"),
                (f"simulator {args.latency_ms} ms", with_latency(original, args.latency_ms), "authorized"),
                ("intake only (no connector)", intake_only(original), "received"),
            ]
            for label, new_config, expected in plan:
                if new_config is not None:
                    config.write_text(new_config)
                    print(f"{label}: {loop.reload_infrastructure()}", flush=True)
                for _ in range(WARM_UP):
                    post(expected)
                before = load()
                timings = [post(expected) for _ in range(args.requests)]
                results[label] = {
                    "p50_ms": round(statistics.median(timings), 1),
                    "p99_ms": round(percentile(timings, 0.99), 1),
                    "max_ms": round(max(timings), 1),
                    "load_before": before,
                    "load_after": load(),
                }
                print(f"{label}: {json.dumps(results[label])}", flush=True)
        finally:
            down(run)
            shutil.rmtree(scratch / "build", ignore_errors=True)
    intake = float(results["intake only (no connector)"]["p50_ms"])
    print(f"\nPOST /transactions, {args.requests} sequential requests each, client-side over HTTP:")
    for label, figures in results.items():
        ratio = float(figures["p50_ms"]) / intake
        print(
            f"  {label:<28} p50 {figures['p50_ms']:7.1f} ms   p99 {figures['p99_ms']:7.1f} ms   "
            f"p50 / intake-only {ratio:4.2f}   load {figures['load_before']} -> {figures['load_after']}"
        )
    print(f"end: load average {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
