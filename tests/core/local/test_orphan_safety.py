"""A local run cannot be orphaned (issue #18): its children stop when the CLI is killed, and its
teardown never depends on the terminal. Real processes, checked by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from payments_platform.core.local.processes import alive

PARENT_DEATH_LIMIT_S = 5.0


def wait_gone(pid: int, limit: float) -> float:
    started = time.monotonic()
    while alive(pid) and time.monotonic() - started < limit:
        time.sleep(0.05)
    return time.monotonic() - started


def launcher(tmp_path: Path, *, die_with_parent: bool) -> tuple[subprocess.Popen, int]:
    """A process that spawns a long-lived child the way `local up` spawns the emulator and gateway,
    then waits; returns it and the child's pid."""
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from payments_platform.core.local.processes import spawn
        child = spawn([sys.executable, "-c", "import time; time.sleep(600)"], log_file=Path({str(tmp_path / "child.log")!r}),
                      die_with_parent={die_with_parent})
        Path({str(pid_file)!r}).write_text(str(child.pid))
        time.sleep(600)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    return process, int(pid_file.read_text())


def test_a_child_stops_within_5_s_of_its_launcher_being_sigkilled(tmp_path: Path):
    process, child = launcher(tmp_path, die_with_parent=True)
    try:
        process.kill()
        process.wait()
        assert wait_gone(child, PARENT_DEATH_LIMIT_S + 1) < PARENT_DEATH_LIMIT_S
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_kept_child_outlives_its_launcher(tmp_path: Path):
    """`local up --keep` returns and leaves the run up: no parent-death watch there."""
    process, child = launcher(tmp_path, die_with_parent=False)
    try:
        process.kill()
        process.wait()
        time.sleep(1.0)
        assert alive(child)
    finally:
        os.kill(child, signal.SIGKILL)


CONSOLE_SCRIPT = """
import sys, time
from pathlib import Path
from payments_platform.core.local.terminal import console
console("first line")
sys.stdin.readline()  # the reader is gone once this returns
for n in range(3):
    console(f"line {n}")
print("plain print after the pipe closed", flush=True)
Path(sys.argv[1]).write_text("teardown ran")
"""


def test_console_lines_to_a_closed_pipe_never_stop_the_teardown(tmp_path: Path):
    marker = tmp_path / "teardown"
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-c", CONSOLE_SCRIPT, str(marker)],
        stdin=subprocess.PIPE,
        stdout=write_end,
        stderr=write_end,  # 2>&1 into the same pipe, as `make up 2>&1 | tee up.log`
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.readline() == b"first line\n"
    # tee is gone: the pipe has no reader any more.
    assert process.stdin is not None
    process.stdin.write(b"go\n")
    process.stdin.close()
    assert process.wait(timeout=30) == 0
    assert marker.read_text() == "teardown ran"
