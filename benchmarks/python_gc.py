"""Python's garbage collector: the CPU of a slice of the test suite with the platform's tuning
(core/ops/garbage_collection.py) and with CPython's default collector, side by side.

    .venv/bin/python benchmarks/python_gc.py [--rounds 2] [TEST PATH ...]

Runs ``pytest -q -p no:cacheprovider`` over the paths (default: tests/runtime and
tests/core/local/emulator -- in-process runtime tests with moto, and the emulator's own tests,
which start real emulator processes) in one process, --rounds times each way, alternately
(default collector, tuned, default, tuned, ...), the default way with PAYMENTS_PYTHON_GC=default
in the environment of pytest and every process it starts. Each run's CPU (user + system) and its
largest process's peak memory are the kernel's accounting of that process tree (os.wait4).
Prints each run, the medians, the median of the pairs' CPU ratios and the load before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_PATHS = ("tests/runtime", "tests/core/local/emulator")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def measured(paths: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak MB) of one pytest run and the processes it waited for."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths]
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            raise SystemExit(f"pytest failed:\n{output.read().decode(errors='replace')[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> int:
    from payments_platform.core.ops.garbage_collection import DEFAULT_GC_ENV_VAR

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS))
    args = parser.parse_args()
    print(f"load before: {uptime()}", flush=True)
    tuned = {key: value for key, value in os.environ.items() if key != DEFAULT_GC_ENV_VAR}
    ways = {"default": {**tuned, DEFAULT_GC_ENV_VAR: "default"}, "tuned": tuned}
    figures: dict[str, list[tuple[float, float, float]]] = {way: [] for way in ways}
    for round_number in range(1, args.rounds + 1):
        for way, env in ways.items():
            figures[way].append(measured(args.paths, env))
            wall, cpu, peak = figures[way][-1]
            print(
                f"round {round_number} {way:<8} wall {wall:6.1f} s  CPU {cpu:6.1f} s  peak {peak:5.0f} MB", flush=True
            )
    print(f"\n{'collector':<10} {'wall s':>7} {'CPU s':>7} {'peak MB':>8}   (medians of {args.rounds})")
    for way, runs in figures.items():
        wall, cpu, peak = (statistics.median(column) for column in zip(*runs, strict=True))
        print(f"{way:<10} {wall:>7.1f} {cpu:>7.1f} {peak:>8.0f}")
    ratio = statistics.median(new[1] / old[1] for new, old in zip(figures["tuned"], figures["default"], strict=True))
    print(f"CPU tuned / default, median of pairs: {ratio:.2f}")
    print(f"load after: {uptime()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
