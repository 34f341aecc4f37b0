"""A snapshot `local up` must not trust (issue #31), against a real run: one made by another moto is
refused in one line and the cold path runs. (A damaged one is met by the suite's seed deployment
itself, which then deploys cold every e2e module tests: tests/e2e/test_cold_path.py.)

The test copies the suite's snapshot (tests/suite_snapshots.py) into a store of its own before
spoiling it; run alone, it makes that snapshot itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from local_support import CTRL_C_ABLE, processes_under, seeded_workdir
from suite_snapshots import store as suite_store

from payments_platform.core.local.snapshots import (
    MANIFEST,
    SNAPSHOTS_ENV_VAR,
    SnapshotStore,
    StackIdentity,
)

from cli_runner import CLI, run_cli

pytestmark = [pytest.mark.terraform, pytest.mark.warm_start]

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return seeded_workdir(tmp_path)


def local(workdir: Path, store: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "--config",
        workdir / "environments.toml",
        "local",
        *args,
        cwd=workdir,
        env={SNAPSHOTS_ENV_VAR: str(store)},
        process=True,
        timeout=timeout,
    )


def copy_of_a_snapshot(workdir: Path) -> Path:
    """A store of the test's own holding the suite's newest snapshot of `local`."""
    shared = suite_store()
    snapshots = SnapshotStore(shared).snapshots() if shared else []
    mine = workdir / "snapshots"
    if not snapshots:  # run alone: make one
        made = local(workdir, mine, "up", "--keep")
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr
        assert local(workdir, mine, "down").returncode == 0
        return mine
    newest = snapshots[0]
    shutil.copytree(newest.directory, mine / newest.directory.name)
    return mine


def refusals(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if "refused" in line or line.lstrip().startswith("cold start")]


def test_a_snapshot_of_another_moto_is_refused_in_one_line_and_the_cold_path_runs(workdir: Path):
    mine = copy_of_a_snapshot(workdir)
    (snapshot,) = SnapshotStore(mine).snapshots()
    # Rewritten as the same stack's snapshot made with another moto: its key and directory follow.
    manifest = json.loads(snapshot.file(MANIFEST).read_text())
    made_by = StackIdentity(
        manifest["environment"],
        {**manifest["compatibility"], "moto": "0.0.1"},
        manifest["stack_sha256"],
        frozenset(manifest["resources"]),
    )
    manifest.update(key=made_by.key, compatibility=dict(made_by.compatibility))
    manifest["compatibility_key"] = made_by.compatibility_key
    snapshot.file(MANIFEST).write_text(json.dumps(manifest))
    snapshot.directory.rename(mine / made_by.key)
    process = subprocess.Popen(
        [*CLI, "--config", str(workdir / "environments.toml"), "local", "up"],
        cwd=workdir,
        env={**os.environ, SNAPSHOTS_ENV_VAR: str(mine)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **CTRL_C_ABLE,
    )
    try:
        printed: list[str] = []
        assert process.stdout is not None
        while not any(line.startswith("→ terraform apply") for line in printed):  # the cold path's apply
            line = process.stdout.readline()
            assert line, "".join(printed[-20:]) + process.stderr.read()
            assert not line.startswith(("→ restore", "→ start the local API")), "".join(printed) + line
            printed.append(line)
        time.sleep(2)
        os.killpg(process.pid, signal.SIGINT)  # enough seen: the apply that follows is the cold path's
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert refusals("".join(printed)) == ["  cold start: snapshots made with another moto\n".rstrip("\n")]
    assert "Traceback" not in stdout + stderr
    assert processes_under(workdir) == []
