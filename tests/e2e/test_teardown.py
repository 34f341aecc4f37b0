"""Last (file order): `local down` destroys everything and leaves nothing running."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from e2e_support import TIMINGS, LocalDeployment

from payments_platform.core.local.leftovers import CHECKS
from payments_platform.core.local.processes import alive

pytestmark = pytest.mark.terraform


def processes_of(run_dir: Path) -> list[int]:
    """Processes working inside the run directory: the Lambda containers (cwd = the unpacked package)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(run_dir):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def torn_down(deployment: LocalDeployment):
    containers = processes_of(deployment.run.run_dir.resolve())
    assert containers, "the API tests should have left warm containers running"
    pids = (deployment.record.gateway_pid, deployment.record.emulator_pid, *containers)
    started = time.perf_counter()
    teardown = deployment.down()
    TIMINGS["local down"] = time.perf_counter() - started
    return teardown, pids


def test_destroy_empties_the_state(torn_down):
    teardown, _ = torn_down
    assert teardown.state_addresses == []


@pytest.mark.parametrize("kind", list(CHECKS))
def test_destroy_leaves_nothing_behind(torn_down, kind: str):
    teardown, _ = torn_down
    assert kind not in teardown.leftovers, f"{kind} still in the emulator: {teardown.leftovers.get(kind)}"


def test_no_process_outlives_down(torn_down):
    _, pids = torn_down
    assert [pid for pid in pids if alive(pid)] == []


def test_the_run_directory_is_left_empty(torn_down, deployment: LocalDeployment):
    left = [p.name for p in deployment.run.run_dir.iterdir() if p.name != "lock"]
    assert left == []
