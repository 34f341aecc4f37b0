"""Stopping terraform stops its provider processes too: terraform killed after ignoring two
interrupts (a loaded machine, a provider call that does not return) left its provider orphaned,
still running in the stack directory (a fresh-clone CI run of the emulator-dies-mid-apply test)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from local_support import DEAF_TO_INTERRUPTS, stubborn_terraform

from payments_platform.core.ops.process_tree import alive, descendants, stop_tree
from payments_platform.core.ops.terraform import TerraformStopped

# A "terraform" deaf to Ctrl-C, with a "provider" child just as deaf.
STUBBORN = 'trap "" INT; sh -c \'trap "" INT; sleep 300\' & echo $! ; wait'


def test_a_terraform_killed_after_two_interrupts_leaves_no_provider_behind():
    terraform = subprocess.Popen(["sh", "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    assert terraform.stdout is not None
    provider = int(terraform.stdout.readline())
    assert provider in descendants(terraform.pid)
    started = time.monotonic()
    stop_tree(terraform, DEAF_TO_INTERRUPTS)
    assert terraform.returncode is not None and time.monotonic() - started < 7
    deadline = time.monotonic() + 5
    while alive(provider) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(provider)


def test_descendants_of_a_process_that_is_gone_are_none():
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert descendants(gone.pid) == set()


def _provider_started(tmp_path: Path) -> bool:
    pid_file = tmp_path / "provider.pid"
    return pid_file.exists() and bool(pid_file.read_text().strip())


@pytest.mark.parametrize("how", ["run timed out", "run_logged found a problem"])
def test_every_way_the_runner_stops_terraform_stops_its_provider_too(tmp_path: Path, how: str):
    terraform = stubborn_terraform(tmp_path)
    with pytest.raises(TerraformStopped) as stopped:
        if how == "run timed out":
            terraform.run(["apply"], tmp_path, timeout=2)
        else:
            terraform.run_logged(
                ["apply"],
                tmp_path,
                tmp_path / "terraform.log",
                check=lambda: "the emulator is gone" if _provider_started(tmp_path) else None,
            )
    assert ("timed out" if how == "run timed out" else "the emulator is gone") in str(stopped.value)
    provider = int((tmp_path / "provider.pid").read_text())
    deadline = time.monotonic() + 5
    while alive(provider) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(provider)
