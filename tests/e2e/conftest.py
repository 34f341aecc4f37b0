"""Fixtures of the end-to-end tests: the `local` environment brought up exactly as
`payments-platform local up` does it (core/local/lifecycle.py) -- the emulator with IAM enforced,
real terraform and the real hashicorp/aws provider, the local API gateway and Lambda containers --
once per test session, and taken down by `local down`'s code in tests/e2e/test_teardown.py (or at
session end when those tests did not run).

Skipped only when there is no terraform binary or no provider mirror (offline installs of
hashicorp/aws); anything else that goes wrong is a failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import ENVIRONMENT, REPO, TIMINGS, LocalDeployment

from payments_platform.core.errors import TerraformError
from payments_platform.core.host.config import load_config
from payments_platform.core.local.lifecycle import LocalRun, up
from payments_platform.core.ops.terraform import Terraform, find_mirror, find_terraform


def _terraform_or_skip() -> None:
    try:
        find_terraform()
    except TerraformError as exc:
        pytest.skip(f"end-to-end deployment needs terraform: {exc}")
    if find_mirror() is None:
        pytest.skip(
            "end-to-end deployment needs an offline provider mirror holding registry.terraform.io/hashicorp/aws "
            "(none at PAYMENTS_TF_PROVIDER_MIRROR, /opt/tf-plugins, ~/.terraform.d/plugins, ...)"
        )


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    _terraform_or_skip()
    lines: list[str] = []
    run = LocalRun(tmp_path_factory.mktemp("e2e") / ".payments-local", say=lines.append)
    started = time.perf_counter()
    try:
        record = up(run, config_path=str(REPO / "environments.toml"), environment_name=ENVIRONMENT)
    except Exception as failure:
        pytest.fail(f"local up failed: {failure}\n" + "\n".join(lines[-30:]))
    TIMINGS["local up"] = time.perf_counter() - started
    (environment,) = load_config(REPO / "environments.toml").select([ENVIRONMENT])
    assert record.stack_dir is not None
    deployed = LocalDeployment(
        run=run,
        record=record,
        environment=environment,
        terraform=Terraform.locate(run.run_dir),
        config=json.loads((Path(record.stack_dir) / "cdk.tf.json").read_text()),
    )
    outputs = deployed.check("output", "-json", "-no-color", timeout=120)
    deployed.outputs = {name: body["value"] for name, body in json.loads(outputs.stdout).items()}
    try:
        yield deployed
    finally:
        if deployed.teardown is None:
            started = time.perf_counter()
            deployed.down()
            TIMINGS["local down"] = time.perf_counter() - started


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A bare emulator process of its own (IAM enforced, every emulator patch), for tests that
    deploy something other than `local` (tests/e2e/test_remote_state.py)."""
    _terraform_or_skip()
    from payments_platform.core.testing.emulator import running_emulator

    with running_emulator(tmp_path_factory.mktemp("emulator")) as emulator:
        yield emulator.endpoint


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        measured = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in TIMINGS.items())
        terminalreporter.write_line(f"e2e local deployment on the emulator: {measured}")
