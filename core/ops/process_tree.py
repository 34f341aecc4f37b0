"""A process and everything it started: is it alive, what is below it, how to stop all of it.

Terraform starts one provider process per provider; killed on its own, terraform leaves them
orphaned, still running in the stack directory. Stopping terraform therefore means stopping
its tree (Linux /proc; elsewhere only the process itself is known).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
# Ctrl-C as a terminal sends it, twice (terraform's second interrupt stops without waiting for
# calls in flight), then SIGKILL for what is left; seconds to wait after each.
INTERRUPT_THEN_KILL: Sequence[tuple[signal.Signals, float]] = (
    (signal.SIGINT, 3.0),
    (signal.SIGINT, 5.0),
    (signal.SIGKILL, 5.0),
)


def dies_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn``: the child is sent ``sig`` when the process (thread) that started it dies
    -- even by SIGKILL or the OOM killer, which leave no chance to clean up (Linux prctl). A child
    whose parent died before the call ends at once rather than serve an orphaned run."""
    parent = os.getpid()

    def apply() -> None:
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig))
        except OSError:
            return  # not Linux: the caller's own cleanup still runs
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return apply


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (Linux /proc; empty elsewhere)."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = {int(child) for child in (task / "children").read_text().split()}
            except (OSError, ValueError):
                continue
            pending.extend(children - found)
            found |= children
    return found


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is dead for every purpose here.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def stop_tree(process: subprocess.Popen, steps: Sequence[tuple[signal.Signals, float]] = INTERRUPT_THEN_KILL) -> None:
    """Signal ``process`` step by step until it exits, then SIGKILL whatever it had started that
    still lives (its children are looked up before each signal: once it is gone, they are not
    findable any more)."""
    children: set[int] = set()
    for sig, wait in steps:
        if process.poll() is not None:
            break
        children |= descendants(process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)
    for pid in children:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
