"""Synth speed: the full platform (all plugins, one environment), three ways of loading the provider.

- lazy: Python submodules on demand + the assembly's JavaScript index made lazy (the default)
- python-lazy: Python submodules on demand, stock JavaScript index (PAYMENTS_LAZY_JS_INDEX=0)
- stock: the provider package imported the normal way (PAYMENTS_STOCK_PROVIDER_IMPORT=1)


Each run is a fresh process running `payments-platform synth --env <env>` end to end
(interpreter start, imports, jsii + assembly load, build, synth, policy checks, write).
Runs alternate between the modes so machine noise hits all alike; medians and ratios are
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

MODES = {
    "lazy": {"PAYMENTS_STOCK_PROVIDER_IMPORT": "0", "PAYMENTS_LAZY_JS_INDEX": "1"},
    "python-lazy": {"PAYMENTS_STOCK_PROVIDER_IMPORT": "0", "PAYMENTS_LAZY_JS_INDEX": "0"},
    "stock": {"PAYMENTS_STOCK_PROVIDER_IMPORT": "1", "PAYMENTS_LAZY_JS_INDEX": "0"},
}


def one_run(env_name: str, mode: str, outdir: str) -> float:
    env = {**os.environ, **MODES[mode]}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "payments_platform.core.cli.main", "synth", "--env", env_name, "--synth-dir", outdir],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--env", default="dev")
    args = parser.parse_args()
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in MODES:  # warm bytecode and the jsii package cache, outside the measurement
            one_run(args.env, mode, f"{tmp}/warm")
        for i in range(args.runs):
            for mode in MODES:
                times[mode].append(one_run(args.env, mode, f"{tmp}/{mode}{i}"))
    medians = {mode: statistics.median(t) for mode, t in times.items()}
    print(f"environment {args.env}, {args.runs} alternating runs per mode, {os.cpu_count()} CPUs")
    for mode, runs in times.items():
        print(f"{mode:<12} median {medians[mode]:6.2f} s   runs {' '.join(f'{t:.2f}' for t in runs)}")
    print(
        f"speed-up vs stock: lazy {medians['stock'] / medians['lazy']:.1f}x, "
        f"python-lazy {medians['stock'] / medians['python-lazy']:.1f}x"
    )


if __name__ == "__main__":
    main()
