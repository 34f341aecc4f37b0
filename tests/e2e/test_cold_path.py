"""The suite's proof of the cold path end to end (issue #31): the shared deployment every e2e module
tests is brought up with ``fresh`` -- synth, the whole ``terraform apply``, functions, gateway, the
first rotations -- and keeps the snapshot the suite's ``warm_start`` tests restore
(tests/suite_snapshots.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import LocalDeployment
from suite_snapshots import store

from payments_platform.core.local.snapshots import SnapshotStore

pytestmark = pytest.mark.terraform


def test_the_shared_deployment_took_the_cold_path(deployment: LocalDeployment):
    steps = [line for line in deployment.console if line.startswith("→ ")]
    assert any(step.startswith("→ terraform apply (") for step in steps), steps
    assert not any(step.startswith("→ restore the snapshot") for step in steps), steps
    assert any(step.startswith("→ wait for the secrets' first rotations") for step in steps), steps


def test_the_shared_deployment_kept_a_snapshot_of_itself(deployment: LocalDeployment):
    kept = [line.strip() for line in deployment.console if line.strip().startswith("snapshot ")]
    assert len(kept) == 1, deployment.console[-10:]
    shared = store()
    where = SnapshotStore(shared) if shared else SnapshotStore.for_run(deployment.run.run_dir)
    snapshots = {s.key[:12]: s for s in where.snapshots()}
    key = kept[0].split()[1]
    assert key in snapshots, (kept, sorted(snapshots))
    snapshots[key].verify()
    assert Path(str(deployment.record.stack_dir)).name == "payments-local"
