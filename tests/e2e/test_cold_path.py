"""The suite's proof of the cold path end to end (issue #31): the shared deployment every e2e module
tests first meets a damaged snapshot of its own stack (tests/e2e/local_up_child.py plants it where
`local up` looks), refuses it in one line and takes the cold path -- synth, the whole
``terraform apply``, functions, gateway, the first rotations -- deploying exactly the synthesized
stack; it keeps the snapshot the suite's ``warm_start`` tests and restored deployments start from
(tests/suite_snapshots.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import LocalDeployment
from suite_snapshots import store

from payments_platform.core.local.snapshots import SnapshotStore

pytestmark = pytest.mark.terraform


def kept_snapshot_key(deployment: LocalDeployment) -> str:
    kept = [line.strip() for line in deployment.console if line.strip().startswith("snapshot ") and " in " in line]
    assert len(kept) == 1, deployment.console[-10:]
    return kept[0].split()[1]


def test_a_damaged_snapshot_of_the_same_stack_is_refused_in_one_line(deployment: LocalDeployment):
    refusals = [line for line in deployment.console if "refused" in line or line.lstrip().startswith("cold start")]
    assert refusals == [
        f"  snapshot {kept_snapshot_key(deployment)} refused: moto.pickle damaged (sha256 differs from its manifest); "
        "cold start"
    ], deployment.console
    assert not any("Traceback" in line for line in deployment.console)


def test_the_shared_deployment_took_the_cold_path(deployment: LocalDeployment):
    steps = [line for line in deployment.console if line.startswith("→ ")]
    (apply,) = [step for step in steps if step.startswith("→ terraform apply (")]
    assert "from a snapshot" not in apply, steps
    assert not any(step.startswith("→ terraform plan: is the restored deployment") for step in steps), steps
    assert any(step.startswith("→ wait for the secrets' first rotations") for step in steps), steps


def test_the_cold_path_deployed_exactly_the_synthesized_stack(deployment: LocalDeployment):
    plan = deployment.run_terraform(
        "plan", "-detailed-exitcode", "-input=false", "-no-color", "-refresh=true", timeout=300
    )
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr


def test_the_shared_deployment_kept_a_snapshot_of_itself(deployment: LocalDeployment):
    key = kept_snapshot_key(deployment)
    shared = store()
    where = SnapshotStore(shared) if shared else SnapshotStore.for_run(deployment.run.run_dir)
    snapshots = {s.key[:12]: s for s in where.snapshots()}
    assert key in snapshots, (key, sorted(snapshots))
    snapshots[key].verify()  # the good deployment's snapshot took the damaged one's place
    assert Path(str(deployment.record.stack_dir)).name == "payments-local"
