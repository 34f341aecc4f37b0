"""Synth speed: the full platform (all plugins, one environment), lazy vs stock provider import.

Each run is a fresh process running `payments-platform synth --env <env>` end to end
(interpreter start, imports, jsii + assembly load, build, synth, policy checks, write).
Runs alternate lazy/stock so machine noise hits both alike; medians and their ratio are
printed. Usage: python benchmarks/synth_speed.py [--runs 5] [--env dev]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def one_run(env_name: str, stock: bool, outdir: str) -> float:
    env = dict(os.environ)
    env["PAYMENTS_STOCK_PROVIDER_IMPORT"] = "1" if stock else "0"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "payments_platform.core.cli", "synth", "--env", env_name, "--out", outdir],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--env", default="dev")
    args = parser.parse_args()
    lazy, stock = [], []
    with tempfile.TemporaryDirectory() as tmp:
        one_run(args.env, False, f"{tmp}/warm")  # compile bytecode once, outside the measurement
        one_run(args.env, True, f"{tmp}/warm")
        for i in range(args.runs):
            lazy.append(one_run(args.env, False, f"{tmp}/lazy{i}"))
            stock.append(one_run(args.env, True, f"{tmp}/stock{i}"))
    lm, sm = statistics.median(lazy), statistics.median(stock)
    print(f"environment {args.env}, {args.runs} alternating runs each, {os.cpu_count()} CPUs")
    print(f"lazy  provider import: median {lm:.2f} s  runs {' '.join(f'{t:.2f}' for t in lazy)}")
    print(f"stock provider import: median {sm:.2f} s  runs {' '.join(f'{t:.2f}' for t in stock)}")
    print(f"speed-up: {sm / lm:.1f}x")


if __name__ == "__main__":
    main()
