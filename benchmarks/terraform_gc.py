"""Terraform's garbage collector: the CPU of a `terraform validate` and of the judging `terraform plan`
at Go's default GOGC=100 and at the GOGC=400 the platform's Terraform runner sets (core/ops/terraform.py).

    .venv/bin/python benchmarks/terraform_gc.py [--rounds 5]

In a scratch directory holding a copy of environments.toml: ``payments-platform local up --keep
--fresh`` (the whole `local` environment on the emulator, cold), then --rounds rounds, each running
both commands at every GOGC value in turn (100, 400, 100, 400, ...: side by side, so a drift of
the machine's speed touches both): ``terraform validate`` (the provider started twice) and
``terraform plan -lock=false -detailed-exitcode`` (every resource refreshed from the emulator:
the plan a warm ``local up`` judges its restored snapshot by). Each command's CPU (user + system)
and its largest process's peak memory are the kernel's accounting of that process tree
(os.wait4). Then ``local down``. Prints per command and GOGC the medians, the CPU ratio of each
round's pair, and the machine's load before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CLI = [sys.executable, "-m", "payments_platform.core.cli.main"]
SETTINGS = ("100", "400")
COMMANDS = {
    "validate": ["validate", "-no-color"],
    "plan (refresh)": ["plan", "-lock=false", "-detailed-exitcode", "-no-color", "-input=false"],
}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def measured(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak MB, exit status) of one command and the processes it waited for."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode


def main() -> int:
    from payments_platform.core.local.run_record import LocalRun, RunRecord
    from payments_platform.core.ops.terraform import Terraform

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load before: {uptime()}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="terraform-gc-"))
    shutil.copy(REPO / "environments.toml", scratch / "environments.toml")
    config = ["--config", str(scratch / "environments.toml")]
    try:
        subprocess.run(
            [*CLI, *config, "local", "up", "--keep", "--fresh"], cwd=scratch, check=True, capture_output=True
        )
        run = LocalRun(scratch / ".payments-local")
        record = RunRecord.load(run.record_file)
        assert record is not None and record.stack_dir, "local up left no run record"
        stack_dir = Path(record.stack_dir)
        terraform = Terraform.locate(run.run_dir)
        figures: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for _ in range(args.rounds):
            for name, command in COMMANDS.items():
                for gogc in SETTINGS:
                    env = {**terraform.env(), "GOGC": gogc}
                    wall, cpu, peak, status = measured([terraform.binary, *command], stack_dir, env)
                    if status not in (0, 2):  # plan -detailed-exitcode: 2 = changes (moto's few round-trips)
                        raise SystemExit(f"terraform {command[0]} exited {status} at GOGC={gogc}")
                    figures.setdefault((name, gogc), []).append((wall, cpu, peak))
        print(f"\n{'command':<16} {'GOGC':>5} {'wall s':>7} {'CPU s':>7} {'peak MB':>8}   (medians of {args.rounds})")
        for (name, gogc), runs in figures.items():
            wall, cpu, peak = (statistics.median(column) for column in zip(*runs, strict=True))
            print(f"{name:<16} {gogc:>5} {wall:>7.2f} {cpu:>7.2f} {peak:>8.0f}")
        for name in COMMANDS:
            pairs = zip(figures[(name, SETTINGS[1])], figures[(name, SETTINGS[0])], strict=True)
            ratio = statistics.median(new[1] / old[1] for new, old in pairs)
            print(f"{name}: CPU at GOGC={SETTINGS[1]} / GOGC={SETTINGS[0]}, median of pairs: {ratio:.2f}")
    finally:
        subprocess.run([*CLI, *config, "local", "down"], cwd=scratch, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"load after: {uptime()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
