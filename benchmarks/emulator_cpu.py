"""The emulator's CPU per payment: what one POST /transactions costs the moto process of a running deployment.

    .venv/bin/python benchmarks/emulator_cpu.py [--run-dir .payments-local] [--payments 200] [--in-flight 4] [--rounds 3]

Against a deployment already up (`payments-platform local up`; its run record names the gateway's
URL, an API key and the emulator's pid): a warm-up of 2 x --in-flight payments (the functions'
first containers), then --rounds rounds of --payments new payments, --in-flight at a time, each
round timed and the emulator's CPU read from /proc/PID/stat (utime + stime) before and after.
Prints per round the emulator's core-seconds, milliseconds per payment, the answers and the load
average; then the median. The gateway, the function containers and this client share the machine:
the emulator's CPU is its own, wall time is not. BENCHMARKS.md ("Emulator CPU per payment")
records the figures and how they were compared.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import statistics
import string
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from payments_platform.plugins.api.local_checks import payment_body  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post_payment(url: str, api_key: str) -> int:
    reference = "cpu-" + "".join(random.choices(string.ascii_lowercase, k=10))  # letters: never PAN-like
    request = urllib.request.Request(
        f"{url}/transactions",
        data=payment_body(reference),
        method="POST",
        headers={"content-type": "application/json", "x-api-key": api_key, "idempotency-key": str(uuid.uuid4())},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def post_many(url: str, api_key: str, count: int, in_flight: int) -> dict[int, int]:
    with concurrent.futures.ThreadPoolExecutor(in_flight) as pool:
        statuses = list(pool.map(lambda _: post_payment(url, api_key), range(count)))
    return {status: statuses.count(status) for status in sorted(set(statuses))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=REPO / ".payments-local", help="the deployment's run directory")
    parser.add_argument("--payments", type=int, default=200, help="payments per round (default 200)")
    parser.add_argument("--in-flight", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    args = parser.parse_args(argv)
    try:
        record = json.loads((args.run_dir / "run.json").read_text())
        url, pid = record["url"], int(record["emulator_pid"])
        api_key = sorted(record["api_keys"].values())[0]
        cpu_seconds(pid)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        print(f"no running deployment in {args.run_dir} ({type(error).__name__}: {error}); `local up` first")
        return 2

    post_many(url, api_key, 2 * args.in_flight, args.in_flight)
    per_payment_ms = []
    for round_number in range(1, args.rounds + 1):
        before, started = cpu_seconds(pid), time.perf_counter()
        answers = post_many(url, api_key, args.payments, args.in_flight)
        wall, used = time.perf_counter() - started, cpu_seconds(pid) - before
        per_payment_ms.append(1000 * used / args.payments)
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        print(
            f"round {round_number}: emulator {used:.2f} core-s for {args.payments} payments"
            f" = {per_payment_ms[-1]:.1f} ms/payment; wall {wall:.1f} s; answers {answers}; load {load}"
        )
    print(f"median: {statistics.median(per_payment_ms):.1f} ms of emulator CPU per payment")
    return 0


if __name__ == "__main__":
    sys.exit(main())
