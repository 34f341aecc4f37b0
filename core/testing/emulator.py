"""Run the local AWS emulator (payments_platform.core.local.emulator.server) for a test.

    with running_emulator(tmp_path) as emulator:
        client = emulator.admin_session().client("dynamodb", endpoint_url=emulator.endpoint)

The emulator runs as its own process (its moto backends and patches never leak into the test
process) and is stopped -- SIGTERM, then SIGKILL after a grace period -- when the block ends,
whatever happened inside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payments_platform.core.local.emulator.admin import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
ADMIN_CREDENTIALS = {"aws_access_key_id": ADMIN_ACCESS_KEY_ID, "aws_secret_access_key": ADMIN_SECRET_ACCESS_KEY}


class EmulatorStartError(RuntimeError):
    """The emulator exited or did not become ready; carries what it printed."""


@dataclass
class RunningEmulator:
    process: subprocess.Popen[bytes]
    endpoint: str
    port: int
    log_file: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def admin_session(self, region: str = "us-east-1") -> Any:
        """A boto3 session signing as the emulator's administrator (what Terraform uses)."""
        import boto3

        return boto3.session.Session(region_name=region, **ADMIN_CREDENTIALS)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


def emulator_command(ready_file: Path, log_file: Path, port: int = 0, extra_args: Sequence[str] = ()) -> list[str]:
    return [
        sys.executable,
        "-m",
        "payments_platform.core.local.emulator.server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ready-file",
        str(ready_file),
        "--log-file",
        str(log_file),
        *extra_args,
    ]


def stop_emulator(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> int:
    """SIGTERM, wait, SIGKILL if it does not go: the process is gone when this returns."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


@contextlib.contextmanager
def running_emulator(
    workdir: Path, *, env: dict[str, str] | None = None, extra_args: Sequence[str] = ()
) -> Iterator[RunningEmulator]:
    workdir.mkdir(parents=True, exist_ok=True)
    ready_file, log_file = workdir / "emulator.ready.json", workdir / "emulator.log"
    ready_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        emulator_command(ready_file, log_file, extra_args=extra_args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready_file.exists():
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise EmulatorStartError(f"the emulator exited with {process.returncode}: {stderr.strip()}")
            if time.monotonic() > deadline:
                raise EmulatorStartError(f"the emulator was not ready within {READY_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
        ready = json.loads(ready_file.read_text())
        yield RunningEmulator(process=process, endpoint=ready["endpoint"], port=ready["port"], log_file=log_file)
    finally:
        stop_emulator(process)
        if process.stderr:
            process.stderr.close()
