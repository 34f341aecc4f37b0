"""A local run's directory and its record.

Everything a run owns lives in one run directory (``.payments-local/`` beside environments.toml):
its record ``run.json`` (pids, endpoint, URLs -- written before each process starts doing work),
logs, the synth output and the Terraform state. ``local down`` needs nothing else, so it can clean
up after a crash or from another terminal. A lock file keeps two commands from sharing it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from payments_platform.core.local.processes import LocalRunError, write_json_atomically

RUN_DIR_NAME = ".payments-local"
KEPT = ("lock", "snapshots")  # what cleaning a run directory leaves (snapshots.SNAPSHOTS_DIR_NAME)
Say = Callable[[str], None]


@dataclass
class RunRecord:
    """run.json: what a run started, where, and how to reach it."""

    environment: str
    stack: str = ""
    emulator_pid: int | None = None
    endpoint: str | None = None
    gateway_pid: int | None = None
    url: str | None = None  # the first API's (by name); every API's: urls
    urls: dict[str, str] = field(default_factory=dict)  # REST API name → its URL
    stack_dir: str | None = None
    suffix: str = ""
    region: str = "us-east-1"
    api_keys: dict[str, str] = field(default_factory=dict)  # client name → key value
    applied: bool = False

    @classmethod
    def load(cls, path: Path) -> RunRecord | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class LocalRun:
    """One run directory and the processes it records."""

    run_dir: Path
    say: Say = print
    record: RunRecord | None = None
    timings: dict[str, float] = field(default_factory=dict)
    teardown_error: str | None = None  # set by down() when destroy failed and only stopping the emulator cleaned up

    @property
    def record_file(self) -> Path:
        return self.run_dir / "run.json"

    def file(self, name: str) -> Path:
        return self.run_dir / name

    def save(self) -> None:
        assert self.record is not None
        write_json_atomically(self.record_file, dataclasses.asdict(self.record))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Held for the whole of ``up`` (while in the foreground) and ``down``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.run_dir / "lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise LocalRunError(
                f"another `payments-platform local` command is working on {self.run_dir} right now; wait for it, "
                "or stop it (Ctrl-C) first"
            ) from None
        try:
            yield
        finally:
            handle.close()

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        self.say(f"→ {name} …")
        yield
        self.timings[name] = elapsed = time.perf_counter() - started
        self.say(f"  done in {elapsed:.1f} s")

    def remove_files(self) -> None:
        """Everything in the run directory but the lock file, which stays while its holder runs,
        and the snapshots the next `local up` starts from (``local forget`` removes them)."""
        if self.run_dir.exists():
            for entry in self.run_dir.iterdir():
                if entry.name in KEPT:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)


def run_dir_for(config_path: Path | None = None) -> Path:
    from payments_platform.core.host.config import find_config_file

    return find_config_file(config_path).resolve().parent / RUN_DIR_NAME  # recorded paths work from any cwd


def default_run(config_path: str | None = None, say: Say = print) -> LocalRun:
    path = Path(config_path) if config_path else None
    return LocalRun(run_dir_for(path), say=say)
