"""One local deployment on this machine, as the CLI (and anything else) drives it.

A :class:`LocalSession` owns the run directory (run_record.py), its lock and the processes it
records: ``up`` brings the deployment up (lifecycle.py), ``serve`` shows its output until a stop
signal or a process dies (terminal.py), ``reloading`` serves saved changes meanwhile (watch.py),
``down`` takes it away, ``smoke`` does all of it with checks in between (smoke.py). Callers
hold no run directory, lock or process of their own.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

from payments_platform.core.local import DEFAULT_ENVIRONMENT, lifecycle
from payments_platform.core.local.processes import LocalRunError
from payments_platform.core.local.run_record import LocalRun, RunRecord, Say, run_dir_for
from payments_platform.core.local.terminal import follow
from payments_platform.core.ops.terraform import Terraform


@dataclasses.dataclass
class LocalSession:
    run: LocalRun
    config_path: str | None = None
    terraform_binary: str | None = None
    provider_mirror: str | None = None

    @classmethod
    def for_config(
        cls,
        config_path: str | None,
        *,
        say: Say = print,
        terraform_binary: str | None = None,
        provider_mirror: str | None = None,
    ) -> LocalSession:
        run = LocalRun(run_dir_for(Path(config_path) if config_path else None), say=say)
        return cls(run, config_path, terraform_binary, provider_mirror)

    @property
    def _tools(self) -> dict[str, str | None]:
        return {"terraform_binary": self.terraform_binary, "provider_mirror": self.provider_mirror}

    @property
    def record(self) -> RunRecord:
        if self.run.record is None:
            raise LocalRunError("no local run is up in this session")
        return self.run.record

    def up(
        self, environment_name: str = DEFAULT_ENVIRONMENT, *, port: int = 0, keep: bool = False, fresh: bool = False
    ) -> RunRecord:
        """Up, or nothing left behind. Unless ``keep``, its processes stop within seconds of this
        process dying, however it dies. From a snapshot where one fits, unless ``fresh``."""
        with self.run.lock():
            return lifecycle.up(
                self.run,
                config_path=self.config_path,
                environment_name=environment_name,
                port=port,
                die_with_parent=not keep,
                fresh=fresh,
                **self._tools,
            )

    def describe(self, examples: Sequence[str] = ()) -> list[str]:
        return lifecycle.describe(self.record, examples)

    def serve(self) -> str:
        """The gateway's output until a stop signal or a process dies; returns which."""
        return follow(self.run, self.record)

    @contextlib.contextmanager
    def reloading(self, environment_name: str) -> Iterator[None]:
        """Saved changes served while it lasts (``local up --watch``)."""
        from payments_platform.core.host.config import find_config_file
        from payments_platform.core.local import watch

        record = self.record
        assert record.endpoint is not None and record.stack_dir is not None
        loop = watch.DevLoop(
            run_dir=self.run.run_dir,
            endpoint=record.endpoint,
            region=record.region,
            stack_dir=Path(record.stack_dir),
            config_path=find_config_file(Path(self.config_path) if self.config_path else None),
            environment_name=environment_name,
            terraform=Terraform.locate(self.run.run_dir, binary=self.terraform_binary, mirror=self.provider_mirror),
            say=self.run.say,
        )
        thread, stop = watch.start(loop)
        try:
            yield
        finally:
            try:
                watch.finish(loop, thread, stop)
            except Exception as exc:  # never in the way of the teardown that follows
                self.run.say(f"(the watcher did not stop cleanly: {exc})")

    def down(self, *, destroy: bool = False) -> bool:
        """Stop whatever the run directory records; False when there was nothing."""
        with self.run.lock():
            return lifecycle.down(
                self.run,
                destroy=destroy,
                terraform_binary=self.terraform_binary,
                provider_mirror=self.provider_mirror,
            )

    def forget_snapshots(self) -> int:
        """Remove the snapshots ``local up`` starts from; how many there were."""
        from payments_platform.core.local.snapshots import SnapshotStore

        with self.run.lock():
            return SnapshotStore.for_run(self.run.run_dir).forget()

    def planned_changes(self) -> list[str]:
        return lifecycle.planned_changes(self.run, self.record, **self._tools)

    def smoke(self, environment_name: str) -> bool:
        from payments_platform.core.local.smoke import SmokeFailure, run_smoke

        def no_changes(record: RunRecord) -> str:
            changes = lifecycle.planned_changes(self.run, record, **self._tools)
            if changes:
                raise SmokeFailure(f"{len(changes)} planned change(s): " + "; ".join(changes[:10]))
            return "exit code 0"

        with self.run.lock():
            return run_smoke(
                self.run,
                plan_check=no_changes,
                config_path=self.config_path,
                environment_name=environment_name,
                **self._tools,
            )
