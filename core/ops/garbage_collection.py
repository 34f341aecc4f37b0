"""Python's cyclic garbage collector, tuned for processes with a large, long-lived heap.

The platform's long-running Python processes (the emulator, the CLI, the test suite's workers)
import a great deal -- moto's ~170 service backends, boto3's models, the cdktf/provider bindings --
and at CPython's default thresholds (700, 10, 10) the collector walks that heap again and again:
in `make test` it was ~28 % of a worker's CPU and ~20 % of an emulator's (BENCHMARKS.md "Python's
garbage collector"). mypy makes the same trade (its main sets a first threshold of 200,000).
Cycles are still collected, later: a test worker's peak memory grew 458 → 570 MB with it.
"""

from __future__ import annotations

import gc
import os

YOUNG_GENERATION_THRESHOLD = 50_000
# "default" leaves CPython's collector as it is (to compare, or to rule the tuning out when
# chasing a process's memory): benchmarks/python_gc.py runs the suite's tests both ways.
DEFAULT_GC_ENV_VAR = "PAYMENTS_PYTHON_GC"


def _tuned() -> bool:
    return os.environ.get(DEFAULT_GC_ENV_VAR, "") != "default"


def collect_less_often() -> None:
    """Raise the young generation's threshold (the older two keep CPython's ratios)."""
    if not _tuned():
        return
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)


def freeze_what_is_loaded() -> None:
    """Move everything alive now (imported modules, their tables) out of the collector's sight:
    called once a process has loaded what it keeps for its whole life, so that no later full
    collection walks it again (gc.freeze: frozen objects are never freed, so call it when what is
    alive is what stays)."""
    if not _tuned():
        return
    gc.collect()
    gc.freeze()
