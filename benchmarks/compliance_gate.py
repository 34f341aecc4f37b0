"""CI time the compliance gate adds (issue #9 target: ≤ 90 s).

    .venv/bin/python benchmarks/compliance_gate.py [--install]

Times, in fresh processes: ``pytest tests/core/ops/compliance`` (synth of every environment, one checkov run
over all of them, the baseline and control-map tests) and, with ``--install``, creating the
checkov tool environment from the pinned files into a scratch directory (what `make test` does
once on a fresh clone; pip's cache as it is on this machine).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="also time installing .venv-checkov from scratch")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [
        timed([sys.executable, "-m", "pytest", "tests/core/ops/compliance", "-q", "-p", "no:cacheprovider"])
        for _ in range(args.runs)
    ]
    print(
        f"pytest tests/core/ops/compliance: median {sorted(runs)[len(runs) // 2]:.1f} s  runs {' '.join(f'{r:.1f}' for r in runs)}"
    )
    gate = [
        timed([str(REPO / ".venv/bin/payments-platform"), "compliance", "--gate", "--all"]) for _ in range(args.runs)
    ]
    print(
        f"payments-platform compliance --gate --all: median {sorted(gate)[len(gate) // 2]:.1f} s  runs {' '.join(f'{r:.1f}' for r in gate)}"
    )
    if args.install:
        with tempfile.TemporaryDirectory(prefix="checkov-venv-") as tmp:
            venv = Path(tmp) / "venv"
            seconds = timed([sys.executable, "-m", "venv", str(venv)]) + timed(
                [
                    str(venv / "bin/python"),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "-r",
                    "compliance/checkov-requirements.txt",
                    "-c",
                    "compliance/checkov-constraints.txt",
                ]
            )
        print(f"install .venv-checkov from the pinned files (warm pip cache): {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
