"""The collector's tuning for processes with a large, long-lived heap (core/ops/garbage_collection.py),
each case in a fresh interpreter: the suite's own workers run tuned."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from payments_platform.core.ops.garbage_collection import DEFAULT_GC_ENV_VAR, YOUNG_GENERATION_THRESHOLD

PROBE = """
import gc, json
from payments_platform.core.ops import garbage_collection
before = gc.get_threshold()
garbage_collection.collect_less_often()
garbage_collection.freeze_what_is_loaded()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def probe(**env: str) -> dict[str, list[int] | int]:
    environment = {key: value for key, value in os.environ.items() if key != DEFAULT_GC_ENV_VAR}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE], env={**environment, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout)


def test_the_young_generation_waits_longer_and_what_is_loaded_is_frozen():
    found = probe()
    assert found["before"] == [700, 10, 10]  # CPython's defaults, so the change below is ours
    assert found["after"] == [YOUNG_GENERATION_THRESHOLD, 10, 10]
    assert found["frozen"] > 1_000  # at least the interpreter's own modules


def test_the_default_collector_on_request():
    found = probe(**{DEFAULT_GC_ENV_VAR: "default"})
    assert found["after"] == found["before"] == [700, 10, 10]
    assert found["frozen"] == 0
