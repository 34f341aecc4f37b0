"""What a foreground local command shows on the terminal, and how it survives the terminal going away."""

from __future__ import annotations

import os
import time

from payments_platform.core.local.processes import alive, last_line
from payments_platform.core.local.run_record import LocalRun, RunRecord
from payments_platform.core.local.signals import stop_signals_recorded


def console(line: str) -> None:
    """Print a progress line to the terminal -- unless it is gone. Teardown never depends on it:
    `make up 2>&1 | tee up.log` then Ctrl-C kills tee first (EPIPE), a closed terminal answers EIO.
    Then stdout (and stderr, when it is the same pipe or terminal) go to /dev/null from here on,
    so neither this, nor the interpreter's flush at exit, fails again."""
    try:
        print(line, flush=True)
    except OSError:
        _silence_stdout()


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        stdout = os.fstat(1)
        same = [2] if _same_file(stdout, 2) else []
        for fd in (1, *same):
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _same_file(stat: os.stat_result, fd: int) -> bool:
    try:
        other = os.fstat(fd)
    except OSError:
        return False
    return (other.st_dev, other.st_ino) == (stat.st_dev, stat.st_ino)


def follow(run: LocalRun, record: RunRecord, *, poll_s: float = 0.2) -> str:
    """Print the gateway's log (function output, access log) until a stop signal or a process dies;
    returns why it stopped."""
    log_file = run.file("gateway.log")
    with stop_signals_recorded() as stop, open(log_file, errors="replace") as log:
        while not stop:
            line = log.readline()
            if line:
                run.say(line.rstrip("\n"))
                continue
            if not alive(record.gateway_pid):
                return f"the gateway stopped: {last_line(log_file)}"
            if not alive(record.emulator_pid):
                return f"the emulator stopped: {last_line(run.file('emulator.log'))}"
            time.sleep(poll_s)
    return stop[0]
