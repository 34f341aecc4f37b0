"""``local up`` from a snapshot (issue #31): which one, restoring it whole or not at all, saving one.

The store and its keys: snapshots.py. The emulator's side (pickling moto): emulator/snapshot.py.
lifecycle.py decides when: restore after ``terraform init`` (the key needs the provider version),
save once a cold or changed ``up`` has served and its secrets have their first values.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from payments_platform.core.local.emulator.snapshot import RESTORE_ROUTE, SNAPSHOT_ROUTE
from payments_platform.core.local.snapshots import (
    EMULATOR_STATE,
    GATEWAY_SPEC,
    TERRAFORM_STATE,
    Snapshot,
    SnapshotRefused,
    SnapshotStore,
    StackIdentity,
    stack_identity,
)
from payments_platform.core.ops.terraform import Terraform

EMULATOR_TIMEOUT_S = 120


@dataclass(frozen=True)
class Restored:
    snapshot: Snapshot
    same_stack: bool  # False: the nearest stack; terraform apply makes the difference


def identify(terraform: Terraform, stack_dir: Path, environment: str, endpoint: str) -> StackIdentity:
    """The deployment's key: the synthesized stack in ``stack_dir`` (initialized) and every version
    that shapes what a restore would hold."""
    result = terraform.run(["version", "-json"], stack_dir, timeout=60)
    versions = json.loads(result.stdout) if result.returncode == 0 else {}
    tools = {"terraform": str(versions.get("terraform_version", "unknown"))}
    for provider, version in sorted((versions.get("provider_selections") or {}).items()):
        tools[f"provider {provider}"] = str(version)
    return stack_identity(environment, (stack_dir / "cdk.tf.json").read_text(), endpoint, tools)


def restore(snapshot: Snapshot, endpoint: str, store: SnapshotStore, state_file: Path) -> None:
    """The emulator holds the snapshot's state and ``state_file`` its Terraform state -- or, on
    SnapshotRefused, neither changed: the emulator swaps its state in only once it has read the
    whole file, and the Terraform state is put in place only after that."""
    snapshot.verify()
    staged = state_file.with_name(f".{state_file.name}.restoring")
    shutil.copyfile(snapshot.file(TERRAFORM_STATE), staged)
    try:
        relative = snapshot.file(EMULATOR_STATE).relative_to(store.directory)
        _emulator_call(endpoint, RESTORE_ROUTE, str(relative))
        os.replace(staged, state_file)
    finally:
        staged.unlink(missing_ok=True)


def save(
    identity: StackIdentity, endpoint: str, store: SnapshotStore, state_file: Path, gateway_spec: Path
) -> Snapshot:
    incoming = store.incoming_file(EMULATOR_STATE)
    try:
        _emulator_call(endpoint, SNAPSHOT_ROUTE, incoming.name)
        files = {EMULATOR_STATE: incoming, TERRAFORM_STATE: state_file, GATEWAY_SPEC: gateway_spec}
        return store.save(identity, files)
    finally:
        incoming.unlink(missing_ok=True)


def _emulator_call(endpoint: str, route: str, name: str) -> dict[str, object]:
    request = urllib.request.Request(f"{endpoint}{route}?file={name}", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=EMULATOR_TIMEOUT_S) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        try:
            reason = json.loads(error.read()).get("error", error.reason)
        except ValueError:
            reason = error.reason
        raise SnapshotRefused(f"the emulator cannot read it ({reason})") from None
    except (OSError, ValueError) as error:
        raise SnapshotRefused(f"the emulator did not answer ({error})") from None
