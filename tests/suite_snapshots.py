"""The suite's one snapshot store (issue #31): the shared e2e deployment is its seed -- started cold,
as the first unit of work, it keeps a snapshot of `local` -- and every other test that needs a
deployment but is not about the cold path starts from it.

tests/conftest.py points ``PAYMENTS_LOCAL_SNAPSHOTS`` at a fresh directory for the session (each
`local up` of the suite, in whatever run directory, reads and writes there). The seed holds
``.seeding.lock`` exclusively until its `local up` has returned; a test waits on it (shared) before
its own, so it restores instead of deploying cold beside the seed. With no seed running (a module
run alone) the wait is nothing and the first `local up` seeds the store itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from payments_platform.core.local.snapshots import SNAPSHOTS_ENV_VAR, SnapshotStore

SEED_LOCK = ".seeding.lock"
SEED_WAIT_S = 900  # a cold `local up` under the whole suite's load
_SEED = {"expected": False}


def store() -> Path | None:
    shared = os.environ.get(SNAPSHOTS_ENV_VAR)
    return Path(shared) if shared else None


@contextlib.contextmanager
def seeding() -> Iterator[tuple[int, ...]]:
    """The seed's lock, taken here and handed to the process started in the block (``pass_fds``):
    an flock belongs to the open file, so it stays held until that process ends -- no moment
    when a waiter finds it free before the seed has begun."""
    directory = store()
    if directory is None:
        yield ()
        return
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(directory / SEED_LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield (handle.fileno(),)


def expect_the_seed() -> None:
    """This session runs the seed (tests/e2e/conftest.py collected a test on the shared deployment)."""
    _SEED["expected"] = True


def wait_for_the_seed() -> None:
    """Returns once no seed is deploying (then the store holds its snapshot, if it succeeded). When
    the session runs the seed, perhaps not yet started on its worker, waits for it to start rather
    than find no lock and deploy cold beside it."""
    directory = store()
    if directory is None:
        return
    deadline = time.monotonic() + SEED_WAIT_S
    while _SEED["expected"] and not (directory / SEED_LOCK).exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the suite's seed deployment did not start within {SEED_WAIT_S} s")
        time.sleep(0.5)
    if not (directory / SEED_LOCK).exists():
        return
    with open(directory / SEED_LOCK) as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the suite's seed deployment held {directory / SEED_LOCK} for {SEED_WAIT_S} s")
                time.sleep(1)


def copy_the_seed_into(directory: Path) -> bool:
    """A store of another stack's own (``directory``) starts with the seed's newest snapshot: that
    stack's `local up` then restores it as the nearest and applies only what differs, instead of
    deploying cold beside the seed. False (nothing copied) when there is no seed snapshot yet."""
    wait_for_the_seed()
    shared = store()
    snapshots = SnapshotStore(shared).snapshots() if shared else []
    if not snapshots:
        return False
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copytree(snapshots[0].directory, directory / snapshots[0].directory.name, dirs_exist_ok=True)
    return True
