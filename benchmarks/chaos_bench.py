"""The chaos convergence experiment of issue #16 as a benchmark: figures, not just a verdict.

    .venv/bin/python benchmarks/chaos_bench.py [--payments 200] [--threads-per-client 2] [--runs 1] [--seed N] [--attach]
                                               [--connector-faults-only]

1. `local up` (its own code) of the `local` environment in a scratch directory -- or, with
   --attach, the run `payments-platform local up --keep` left running beside environments.toml;
2. per run: core/testing/chaos.py with the api plugin's scenario (plugins/api/chaos_scenario.py) -- SDK-like clients (one Idempotency-Key per payment, reused on
   every retry of a 409/429/5xx/timeout; exponential back-off with full jitter) pay while the
   default faults hit TransactWriteItems (before and after commit, and a timeout after commit),
   SendMessage, Publish, the completion update and the processor's containers -- and, where the
   acquirer simulator is the connector (issue #28), a mix of its test cards while its ledger write
   fails after committing and stalls past the budget, processors are killed waiting on it and its
   containers mid-call; then the reconciler on its deployed schedule; then the steady state is
   checked (with the connector: each status the card's, at most one authorization per payment);
3. prints each run's figures as JSON (faults by kind and target, client retries, time to converge
   p50/max, outcomes, audit messages, events, duplicates, reconciled) and exits 1 if a check failed;
4. `local down`, whatever happened (not with --attach).
--connector-faults-only injects the connector's faults alone (no intake faults): which findings
need which faults.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument("--threads-per-client", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--attach", action="store_true", help="use the running `local up --keep` deployment")
    parser.add_argument("--connector-faults-only", action="store_true", help="no intake faults, the connector's only")
    args = parser.parse_args()

    from payments_platform.core.local.api_hooks import local_deployment
    from payments_platform.core.local.lifecycle import down, up
    from payments_platform.core.local.run_record import LocalRun, RunRecord, default_run
    from payments_platform.core.testing.chaos import Experiment, chaos_scenario, run_experiment

    failed = False
    with tempfile.TemporaryDirectory(prefix="chaos-bench-") as scratch:
        run = (
            default_run(str(REPO / "environments.toml")) if args.attach else LocalRun(Path(scratch) / ".payments-local")
        )
        try:
            attached = RunRecord.load(run.record_file) if args.attach else None
            if args.attach and (attached is None or attached.url is None):
                raise SystemExit(f"--attach: no running local deployment recorded in {run.run_dir}")
            record = attached or up(run, config_path=str(REPO / "environments.toml"))
            for number in range(args.runs):
                running = local_deployment(run.run_dir, record)
                scenario = chaos_scenario(running, REPO / "environments.toml")
                only = getattr(scenario, "connector_faults", None) if args.connector_faults_only else None
                report = run_experiment(
                    Experiment(
                        running,
                        scenario,
                        faults=only() if only is not None else None,
                        requests=args.payments,
                        threads_per_client=args.threads_per_client,
                        seed=None if args.seed is None else args.seed + number,
                    ),
                    say=print,
                )
                figures = report.figures()
                figures["load_average"] = os.getloadavg()
                print(json.dumps({"run": number + 1, **figures}, indent=1))
                failed = failed or bool(report.failures)
        finally:
            if not args.attach:
                down(run)
    print("chaos: every check passed" if not failed else "chaos: a check FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
