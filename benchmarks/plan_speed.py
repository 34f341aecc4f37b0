"""`payments-platform plan` on an unchanged environment: synth + init + plan, end to end.

Target (issue #11): <= 15 s on the 2-core development VM with a warm provider cache.

Against a moto server in this process (there is no AWS here), with the emulator's bucket-policy
patch: the state bucket is bootstrapped, the whole `local` environment (all plugins) deployed
with S3 state and a lockfile, then each run is a fresh `payments-platform plan --env local`
process (interpreter start, synth, `terraform init` against the S3 backend, `terraform plan`
with refresh of every resource, `show -json`, summary). The platform is destroyed at the end.
On moto a few attributes do not round-trip (Lambda logging_config, security-group rule
descriptions), so the "unchanged" environment shows a handful of in-place changes there; the
last run's totals are printed with the figure.

Usage: python benchmarks/plan_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE_TABLE = """
[environments.local.state]
bucket = "bench-payments-tfstate"
key_prefix = "payments-platform"
region = "us-east-1"
kms_key_id = "alias/bench-terraform-state"
"""


def cli(
    config: Path, cwd: Path, *args: str, ok: tuple[int, ...] = (0,)
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "payments_platform.core.cli.main", "--config", str(config), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in ok:
        raise SystemExit(
            f"{' '.join(args)} failed (exit {result.returncode}):\n{result.stderr}\n{result.stdout[-2000:]}"
        )
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from moto.server import ThreadedMotoServer

    from payments_platform.core.local.emulator import moto_bucket_policy

    moto_bucket_policy.apply()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        with tempfile.TemporaryDirectory(prefix="plan-bench-") as tmp:
            work = Path(tmp)
            text = (REPO / "environments.toml").read_text()
            text = re.sub(r'aws_endpoint = "http://127\.0\.0\.1:\d+"', f'aws_endpoint = "http://{host}:{port}"', text)
            config = work / "environments.toml"
            config.write_text(text + STATE_TABLE)
            seconds, _ = cli(config, work, "state", "bootstrap", "--env", "local")
            print(f"state bootstrap: {seconds:.1f} s")
            seconds, _ = cli(config, work, "deploy", "--env", "local", "--auto-approve")
            print(f"deploy (all plugins, S3 state): {seconds:.1f} s")
            try:
                cli(config, work, "plan", "--env", "local")  # warm: bytecode, jsii cache, provider links
                times = []
                for _ in range(args.runs):
                    seconds, result = cli(config, work, "plan", "--env", "local", "--detailed-exitcode", ok=(0, 2))
                    times.append(seconds)
                # moto does not round-trip every attribute: what it reports as changed right after the
                # apply is an emulator gap, printed so the figure is read with it.
                print(result.stdout.strip().splitlines()[-1])
                print(
                    f"plan --env local (unchanged, {args.runs} runs, {os.cpu_count()} CPUs): "
                    f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s"
                )
                print("runs: " + " ".join(f"{t:.2f}" for t in times))
            finally:
                seconds, _ = cli(config, work, "destroy", "--env", "local", "--auto-approve")
                print(f"destroy: {seconds:.1f} s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
