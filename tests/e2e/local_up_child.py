"""`local up`'s own code in a child process of the suite (tests/e2e/conftest.py): it ends once the run
is up, as `local up --keep` does, and prints its console and duration as JSON on its last line.

    python local_up_child.py RUN_DIR CONFIG ENVIRONMENT seed|restore

``seed``: the suite's cold path end to end (tests/e2e/test_cold_path.py). Its snapshot store first
receives a damaged snapshot of the very stack it is about to deploy -- files whose sha256 no longer
matches the manifest, as a disk error or a truncated copy would leave them -- so the real `local up`
meets it where it looks: it must refuse it in one line, take the cold path and deploy the stack that
every e2e module then tests (issue #31). ``restore``: a deployment of a module's own, from the
seed's snapshot.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from payments_platform.core.local import warm_start
from payments_platform.core.local.lifecycle import up
from payments_platform.core.local.run_record import LocalRun
from payments_platform.core.local.snapshots import (
    EMULATOR_STATE,
    GATEWAY_SPEC,
    TERRAFORM_STATE,
    SnapshotStore,
    StackIdentity,
)


def plant_a_damaged_snapshot(store: SnapshotStore, identity: StackIdentity) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        files = {name: Path(scratch, name) for name in (EMULATOR_STATE, TERRAFORM_STATE, GATEWAY_SPEC)}
        for path in files.values():
            path.write_bytes(b"written whole, then damaged: one byte flipped after the manifest took its sha256")
        snapshot = store.save(identity, files)
    state = bytearray(snapshot.file(EMULATOR_STATE).read_bytes())
    state[len(state) // 2] ^= 0xFF
    snapshot.file(EMULATOR_STATE).write_bytes(bytes(state))


def main(run_dir: str, config: str, environment: str, mode: str) -> int:
    lines: list[str] = []
    run = LocalRun(Path(run_dir), say=lines.append)
    if mode == "seed":
        identify = warm_start.identify

        def identify_then_damage(*args: Any, **kwargs: Any) -> StackIdentity:
            identity = identify(*args, **kwargs)
            plant_a_damaged_snapshot(SnapshotStore.for_run(run.run_dir), identity)
            return identity

        warm_start.identify = identify_then_damage  # type: ignore[assignment]
    started = time.perf_counter()
    try:
        up(run, config_path=config, environment_name=environment, die_with_parent=False)
    except BaseException as failure:
        print(f"local up failed: {failure}", *lines[-30:], sep="\n")
        return 1
    print(json.dumps({"seconds": time.perf_counter() - started, "console": lines}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
