"""`local up --watch` on the shared deployment: a saved handler edit is served by the next request;
a broken edit is refused with one line and the last good code keeps serving.

The watcher (core/local/watch.py, as `local up --watch` starts it) watches a copy of the runtime,
so the checkout is never edited; the copy is put back at the end and reloaded, so the deployed
CodeSha256 is the stack's package again for the modules that follow.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_support import REGION, REPO, TIMINGS, LocalDeployment

from payments_platform.core.deployment_checks import http_request as request
from payments_platform.core.local import watch
from payments_platform.core.local.lambdafn.deployed_functions import code_sha256

pytestmark = pytest.mark.terraform

RELOAD_WAIT_S = 30
MARKER_HEADER = "x-dev-loop"
# Appended to the status handler's module: the same handler, one header more.
EDIT = """

_served_before_the_edit = handler


def handler(event, context):
    response = _served_before_the_edit(event, context)
    response.setdefault("headers", {})["X-Dev-Loop"] = "edited"
    return response
"""


@dataclass
class Watching:
    loop: watch.DevLoop
    lines: list[str]
    status_module: Path
    original: str

    def save(self, text: str) -> float:
        """Write the module as an editor saves it; returns when (perf_counter)."""
        scratch = self.status_module.with_suffix(".py.swp-test")
        scratch.write_text(text)
        scratch.replace(self.status_module)
        return time.perf_counter()

    def wait_for(self, mark: str, after: int) -> str:
        deadline = time.monotonic() + RELOAD_WAIT_S
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if line.startswith(mark):
                    return line
            time.sleep(0.05)
        pytest.fail(f"no {mark!r} line within {RELOAD_WAIT_S} s; the watcher said: {self.lines[after:]}")


@pytest.fixture(scope="module")
def watching(deployment: LocalDeployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watching]:
    runtime = tmp_path_factory.mktemp("dev-loop") / "runtime"
    shutil.copytree(watch.runtime_source_dir(), runtime, ignore=shutil.ignore_patterns("__pycache__"))
    lines: list[str] = []
    loop = watch.DevLoop(
        run_dir=deployment.run.run_dir,
        endpoint=deployment.endpoint,
        region=REGION,
        stack_dir=deployment.stack_dir,
        config_path=REPO / "environments.toml",
        environment_name="local",
        terraform=deployment.terraform,
        runtime_dir=runtime,
        say=lines.append,
        build_cache_dir=runtime.parent / "build",
    )
    thread, stop = watch.start(loop)
    time.sleep(1.0)  # the watcher is set up once its first poll runs
    status_module = runtime / "status.py"
    state = Watching(loop, lines, status_module, status_module.read_text())
    try:
        yield state
    finally:
        if status_module.read_text() != state.original:
            before = len(lines)
            state.save(state.original)
            state.wait_for("↻", before)
        watch.finish(loop, thread, stop)


def status_request(deployment: LocalDeployment):
    key = sorted(deployment.record.api_keys.values())[0]
    return request("GET", f"{deployment.url}/status?transaction_id=txn_devloop", headers={"x-api-key": key})


def test_a_saved_handler_edit_is_served_by_the_next_request(deployment: LocalDeployment, watching: Watching):
    assert MARKER_HEADER not in status_request(deployment).headers
    before = len(watching.lines)
    saved = watching.save(watching.original + EDIT)
    reloaded = watching.wait_for("↻", before)
    response = status_request(deployment)
    TIMINGS["runtime edit → served"] = time.perf_counter() - saved
    assert response.headers.get(MARKER_HEADER) == "edited", (reloaded, response)
    assert "status.py" in reloaded and "CodeSha256" in reloaded


def test_the_deployed_code_is_the_edited_package(deployment: LocalDeployment, watching: Watching):
    lambda_client = deployment.client("lambda")
    name = deployment.outputs["status_checker_function_name"]
    deployed = lambda_client.get_function_configuration(FunctionName=name)["CodeSha256"]
    [served] = [f for f in deployment.gateway_spec["functions"] if f["name"] == name]
    assert (Path(served["code_dir"]) / "payments_runtime" / "status.py").read_text().endswith(EDIT)
    assert deployed != code_sha256(deployment.stack_dir / _package_of(deployment, name))


def test_a_syntax_error_is_refused_in_one_line_and_the_last_good_code_keeps_serving(
    deployment: LocalDeployment, watching: Watching
):
    before = len(watching.lines)
    watching.save(watching.original + EDIT + "\ndef broken(:\n")
    refused = watching.wait_for("✗", before)
    assert "status.py" in refused and "SyntaxError" in refused and "still serving" in refused
    assert "\n" not in refused
    assert status_request(deployment).headers.get(MARKER_HEADER) == "edited"


def _package_of(deployment: LocalDeployment, function_name: str) -> str:
    functions = deployment.config["resource"]["aws_lambda_function"].values()
    [body] = [f for f in functions if f["function_name"] == function_name]
    return str(body["filename"])
