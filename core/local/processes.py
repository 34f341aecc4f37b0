"""Starting and stopping the processes of a local run, and talking to the emulator.

Every process is started in a session of its own, so stopping it stops its children too
(the gateway's Lambda containers); its pid and process-group id are recorded in the run file
before anything else happens, so ``local down`` can always find it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from payments_platform.core.errors import PlatformError
from payments_platform.core.local.emulator.admin import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
from payments_platform.core.ops.process_tree import alive as alive  # what callers of this module ask too
from payments_platform.core.ops.process_tree import dies_with_parent

# The administrator credentials the emulator is seeded with (emulator_server.py); the same
# dummy pair the synthesized provider uses for an emulator endpoint (core/host/foundation.py).
ADMIN_CREDENTIALS = {"AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY}
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class LocalRunError(PlatformError):
    """A local run could not start, or stopped on its own."""


def emulator_client(
    service: str,
    endpoint: str,
    region: str,
    access_key: str = ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"],
    secret_key: str = ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region)
    return session.client(
        service,
        endpoint_url=endpoint,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5),
    )


def write_json_atomically(path: Path, data: Mapping[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(data, indent=2))
    os.chmod(temporary, 0o600)  # run files hold emulator credentials
    temporary.replace(path)


def spawn(
    command: Sequence[str], *, log_file: Path, env: Mapping[str, str] | None = None, die_with_parent: bool = False
) -> subprocess.Popen:
    """A detached child (own session) writing to ``log_file``; with ``die_with_parent`` it is sent
    SIGTERM (its orderly stop) when this process dies, however it dies."""
    with open(log_file, "ab") as log:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            preexec_fn=dies_with_parent() if die_with_parent else None,
        )


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def wait_ready(
    process: subprocess.Popen | None, ready_file: Path, *, what: str, log_file: Path, timeout: float = READY_TIMEOUT_S
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready_file.exists():
            return json.loads(ready_file.read_text())
        if process is not None and process.poll() is not None:
            raise LocalRunError(f"{what} exited during start (status {process.returncode}): {last_line(log_file)}")
        time.sleep(0.05)
    raise LocalRunError(f"{what} did not become ready within {timeout:.0f} s (log: {log_file})")


def last_line(log_file: Path) -> str:
    try:
        lines = [line for line in log_file.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1].strip() if lines else "(no output)"


def stop_group(pid: int | None, *, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the process group led by ``pid`` (it was started in its own session), SIGKILL
    what is left after ``timeout``."""
    if not pid:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            if not _group_alive(pid):
                return
            time.sleep(0.05)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # Only zombies left counts as gone.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False
