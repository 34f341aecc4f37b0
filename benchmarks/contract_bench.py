"""What the contract run costs: `payments-platform contract` against a running local deployment.

    .venv/bin/payments-platform local up --keep
    .venv/bin/python benchmarks/contract_bench.py [--runs N]
    .venv/bin/payments-platform local down

Each run is the CI run (schemathesis.toml: every phase and check, fixed seed, bounded cases, 2
workers, the two local clients as peers) through `run_contract`, its output discarded; prints wall
time, generated cases, HTTP exchanges and the result per run, and the medians. BENCHMARKS.md records them. Bounded by --runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    from payments_platform.core.cli.contract import card_data_check, local_target
    from payments_platform.core.ops.api_contract import run_contract

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, choices=range(1, 6))
    args = parser.parse_args()
    url, key, peer = local_target(str(REPO / "environments.toml"))
    walls, cases = [], []
    for number in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="contract-bench-") as scratch:
            started = time.perf_counter()
            report = run_contract(
                url,
                key,
                holds_card_data=card_data_check(str(REPO / "environments.toml"), "local"),
                peer_api_key=peer,
                root=REPO,
                report_dir=Path(scratch),
                output=subprocess.DEVNULL,
            )
            wall = time.perf_counter() - started
        walls.append(wall)
        cases.append(report.generated)
        print(
            f"run {number}: {wall:6.1f} s wall, {report.generated} generated cases, {report.exchanges} HTTP exchanges, "
            f"{'passed' if report.passed else 'FAILED'}",
            flush=True,
        )
    print(f"median: {statistics.median(walls):.1f} s wall, {statistics.median(cases):.0f} generated cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
