"""Fixtures of the end-to-end tests: a moto server in this process, and the `local` environment
really deployed onto it with the real terraform binary and the real hashicorp/aws provider.

One deployment per module (apply ~85 s, destroy ~50 s): the tests read it, the last tests
destroy it, and module teardown destroys it when they did not run. The terminal summary
reports the measured apply and destroy times.

Skipped only when there is no terraform binary or no provider mirror (offline installs of
hashicorp/aws); anything else that goes wrong is a failure.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import urllib.request
from typing import Iterator

import pytest
from e2e_support import ENVIRONMENT, PARALLELISM, REPO, TIMINGS, LocalDeployment, output_tail

from payments_platform.core.config import load_config
from payments_platform.core.errors import TerraformError
from payments_platform.core.synth import synthesize
from payments_platform.core.terraform import Terraform, find_mirror, find_terraform


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


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's server on a free loopback port, in this process (no Docker: Lambdas cannot run)."""
    _terraform_or_skip()
    from moto.server import ThreadedMotoServer

    from payments_platform.core.local import moto_bucket_policy

    moto_bucket_policy.apply()  # the state bucket's conditional Deny statements, evaluated as S3 does

    # werkzeug logs every request at INFO; terraform makes hundreds of them.
    werkzeug_logger = logging.getLogger("werkzeug")
    previous_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's backends are process-wide (shared with mock_aws): start from, and leave, a clean slate.
    _reset_moto(endpoint)
    try:
        yield endpoint
    finally:
        try:
            _reset_moto(endpoint)
        finally:
            server.stop()
            werkzeug_logger.setLevel(previous_level)


def _reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, f"moto reset answered {response.status}"


@pytest.fixture(scope="module")
def deployment(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    """Synth `local` pointed at the moto server, `terraform init` + `apply`; destroy at the end."""
    (environment,) = load_config(REPO / "environments.toml").select([ENVIRONMENT])
    environment = dataclasses.replace(environment, aws_endpoint=moto_endpoint)
    # The state file lands beside the output directory (../../../ of the stack): inside tmp.
    outdir = tmp_path_factory.mktemp("e2e-local") / "cdktf.out"
    result = synthesize([environment], outdir)
    stack_dir = result.stacks[environment.stack_name]
    deployed = LocalDeployment(
        endpoint=moto_endpoint,
        environment=environment,
        synth=result,
        stack_dir=stack_dir,
        terraform=Terraform.locate(result.outdir),
    )
    assert deployed.terraform.mirror is not None  # _terraform_or_skip made sure
    deployed.terraform.init(stack_dir, backend=True)
    started = time.perf_counter()
    applied = deployed.run("apply", "-auto-approve", "-input=false", "-no-color", PARALLELISM)
    TIMINGS["apply"] = deployed.apply_seconds = time.perf_counter() - started
    if applied.returncode != 0:
        # No destroy: the state and the in-process moto server are thrown away with this run.
        pytest.fail(f"terraform apply failed (exit {applied.returncode})\n{output_tail(applied)}")
    try:
        outputs = deployed.check("output", "-json", "-no-color", timeout=120)
        deployed.outputs = {name: body["value"] for name, body in json.loads(outputs.stdout).items()}
        yield deployed
    finally:
        # The destroy tests normally did it (and reported a failure themselves).
        if not deployed.destroyed:
            destroyed = deployed.destroy()
            if destroyed.returncode != 0:
                pytest.fail(f"terraform destroy failed at teardown (exit {destroyed.returncode})\n{output_tail(destroyed)}")
        if deployed.destroy_seconds is not None:
            TIMINGS["destroy"] = deployed.destroy_seconds


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        measured = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in TIMINGS.items())
        terminalreporter.write_line(f"e2e local deployment on moto: {measured}")
