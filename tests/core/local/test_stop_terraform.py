"""Stopping terraform stops its provider processes too: terraform killed after ignoring two
interrupts (a loaded machine, a provider call that does not return) left its provider orphaned,
still running in the stack directory (a fresh-clone CI run of the emulator-dies-mid-apply test)."""

from __future__ import annotations

import subprocess
import time

from payments_platform.core.ops.process_tree import alive, descendants, stop_tree

# A "terraform" deaf to Ctrl-C, with a "provider" child just as deaf.
STUBBORN = 'trap "" INT; sh -c \'trap "" INT; sleep 300\' & echo $! ; wait'


def test_a_terraform_killed_after_two_interrupts_leaves_no_provider_behind():
    terraform = subprocess.Popen(["sh", "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    assert terraform.stdout is not None
    provider = int(terraform.stdout.readline())
    assert provider in descendants(terraform.pid)
    started = time.monotonic()
    stop_tree(terraform)
    assert terraform.returncode is not None and time.monotonic() - started < 15
    deadline = time.monotonic() + 5
    while alive(provider) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(provider)


def test_descendants_of_a_process_that_is_gone_are_none():
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert descendants(gone.pid) == set()
