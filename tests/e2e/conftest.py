"""Fixtures of the end-to-end tests: the `local` environment brought up exactly as
`payments-platform local up` does it (core/local/lifecycle.py) -- the emulator with IAM enforced,
real terraform and the real hashicorp/aws provider, the local API gateway and Lambda containers --
once per test session -- the suite's seed: it starts cold and keeps the snapshot the `warm_start` tests
restore (tests/suite_snapshots.py) -- and taken down by `local down`'s code in tests/e2e/test_teardown.py (or at
session end when those tests did not run).

One deployment serves every e2e module: a module needing it takes the session fixture
``deployment`` (a :class:`e2e_support.LocalDeployment`: URL, keys, clients with the administrator's
or a function's credentials, terraform in the stack directory). It is started in a child process
as soon as collection finds an e2e test, so its ``terraform apply`` -- mostly the AWS provider
waiting for attributes to settle -- runs while the unit tests before it use the CPU; the fixture
only waits for it. A module that changes the deployment puts it back (test_dev_loop.py does).

Skipped only when there is no terraform binary or no provider mirror (offline installs of
hashicorp/aws); anything else that goes wrong is a failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import suite_snapshots
from e2e_support import ENVIRONMENT, REPO, TIMINGS, LocalDeployment, terraform_missing, terraform_or_skip

from payments_platform.core.host.config import load_config
from payments_platform.core.local.emulator.retried_calls import retries_said
from payments_platform.core.local.lifecycle import down
from payments_platform.core.local.run_record import LocalRun, RunRecord
from payments_platform.core.ops.terraform import Terraform

# The child process that runs `local up`'s own code for the session (started at collection).
_BACKGROUND: dict[str, Any] = {}
UP_CHILD = Path(__file__).with_name("local_up_child.py")


def _up_command(run_dir: Path, mode: str) -> list[str]:
    return [sys.executable, str(UP_CHILD), str(run_dir), str(REPO / "environments.toml"), ENVIRONMENT, mode]


def _start_deployment(*, by_fixture: bool) -> None:
    """The seed's `local up` in a child process, in a run directory of its own."""
    run_dir = Path(tempfile.mkdtemp(prefix="e2e-local-")) / ".payments-local"
    _BACKGROUND.update(run_dir=run_dir, started=time.perf_counter(), by_fixture=by_fixture)
    with suite_snapshots.seeding() as seed_lock:  # held by the child until it ends: it seeds the suite's store
        _BACKGROUND["process"] = subprocess.Popen(
            _up_command(run_dir, "seed"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            pass_fds=seed_lock,
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    wanted = any("deployment" in getattr(item, "fixturenames", ()) for item in session.items)
    if not wanted or session.config.option.collectonly:
        return
    suite_snapshots.expect_the_seed()
    if hasattr(session.config, "workerinput"):
        # An xdist worker does not know yet whether it gets the e2e tests: the one that does
        # starts the deployment in the fixture, first of its work (tests/conftest.py groups them).
        _BACKGROUND["ungrouped"] = any(
            "deployment" in getattr(item, "fixturenames", ()) and not item.nodeid.endswith("@e2e-deployment")
            for item in session.items
        )
        return
    if terraform_missing() is None:  # else the fixture skips
        _start_deployment(by_fixture=False)


def pytest_shared_deployment_due(config: pytest.Config) -> bool | None:
    """This xdist worker got the shared deployment's tests (tests/conftest.py): start it now, so its
    apply runs under the unit tests the worker takes first; the fixture only waits for it."""
    if "process" not in _BACKGROUND and terraform_missing() is None:  # else the fixture skips
        _start_deployment(by_fixture=True)
    return True if "process" in _BACKGROUND else None


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A deployment no test took (deselected, or the session stopped early) is taken down here."""
    if hasattr(session.config, "workeroutput") and TIMINGS:  # an xdist worker: tests/conftest.py prints them
        session.config.workeroutput["e2e_timings"] = json.dumps(TIMINGS)
    process = _BACKGROUND.pop("process", None)
    if process is None or _BACKGROUND.get("taken"):
        return
    process.wait()
    down(LocalRun(_BACKGROUND["run_dir"], say=lambda line: None), destroy=False)


def _retried_requests() -> str:
    """The emulator's lines about calls a client retried (emulator/retried_calls.py)."""
    lines = retries_said(Path(_BACKGROUND["run_dir"]) / "emulator.log", last=20) if "run_dir" in _BACKGROUND else []
    return "\nthe emulator's retried requests:\n" + "\n".join(lines) if lines else ""


@pytest.fixture(scope="session")
def deployment() -> Iterator[LocalDeployment]:
    terraform_or_skip()
    if _BACKGROUND.get("ungrouped"):
        # Ungrouped, xdist would run these modules on every worker, each with a deployment of its own.
        pytest.fail(
            "pytest-xdist did not keep the e2e modules together (tests/conftest.py groups them): this pytest "
            "and pytest-xdist do not work together (pytest-dev/pytest-xdist#1386); install the versions "
            "pyproject.toml pins"
        )
    if "process" not in _BACKGROUND:  # collection did not start it (a plugin deselected later, ...)
        _start_deployment(by_fixture=True)
    _BACKGROUND["taken"] = True
    process: subprocess.Popen[str] = _BACKGROUND["process"]
    waiting = time.perf_counter()
    output, _ = process.communicate()
    if process.returncode != 0:
        pytest.fail(f"local up failed (exit {process.returncode}):\n{output[-6000:]}{_retried_requests()}")
    started = "by the e2e worker's first test" if _BACKGROUND.get("by_fixture") else "at collection"
    result = json.loads(output.strip().splitlines()[-1])
    TIMINGS[f"local up (started {started})"] = result["seconds"]
    TIMINGS["e2e waited for it"] = time.perf_counter() - waiting
    deployed = _deployment_in(_BACKGROUND["run_dir"], result["console"])
    try:
        yield deployed
    finally:
        if deployed.teardown is None:
            started = time.perf_counter()
            deployed.down()
            TIMINGS["local down"] = time.perf_counter() - started


def _deployment_in(run_dir: Path, console: list[str]) -> LocalDeployment:
    run = LocalRun(run_dir, say=lambda line: None)
    record = RunRecord.load(run.record_file)
    assert record is not None and record.stack_dir is not None
    run.record = record
    (environment,) = load_config(REPO / "environments.toml").select([ENVIRONMENT])
    deployed = LocalDeployment(
        run=run,
        record=record,
        environment=environment,
        terraform=Terraform.locate(run.run_dir),
        config=json.loads((Path(record.stack_dir) / "cdk.tf.json").read_text()),
        console=console,
    )
    outputs = deployed.check("output", "-json", "-no-color", timeout=120)
    deployed.outputs = {name: body["value"] for name, body in json.loads(outputs.stdout).items()}
    return deployed


@pytest.fixture(scope="module")
def restored_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    """A `local` deployment of the module's own, restored from the seed's snapshot (~15 s, issue #31):
    for a module whose load or faults would slow or disturb the shared one's other tests (chaos), and
    which then runs on another worker beside them. Run alone, with no seed, it deploys cold."""
    terraform_or_skip()
    suite_snapshots.wait_for_the_seed()
    run_dir = tmp_path_factory.mktemp("restored") / ".payments-local"
    process = subprocess.run(
        _up_command(run_dir, "restore"),
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode != 0:
        pytest.fail(f"local up failed (exit {process.returncode}):\n{process.stdout[-6000:]}")
    result = json.loads(process.stdout.strip().splitlines()[-1])
    TIMINGS["restored local up"] = result["seconds"]
    deployed = _deployment_in(run_dir, result["console"])
    try:
        yield deployed
    finally:
        down(deployed.run, destroy=False)


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A bare emulator process of its own (IAM enforced, every emulator patch), for tests that
    deploy something other than `local` (tests/e2e/test_remote_state.py)."""
    terraform_or_skip()
    from payments_platform.core.testing.emulator import running_emulator

    with running_emulator(tmp_path_factory.mktemp("emulator")) as emulator:
        yield emulator.endpoint


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        measured = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in TIMINGS.items())
        terminalreporter.write_line(f"e2e local deployment on the emulator: {measured}")
