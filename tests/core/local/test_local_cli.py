"""`payments-platform local …` on bad input and faults: one clear line, a non-zero exit, nothing left
behind -- no process (checked by PID), no half state, and `local down` always able to clean up.

Each test works in its own directory (a copy of environments.toml there puts the run directory,
`.payments-local/`, beside it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from local_support import CTRL_C_ABLE, PAYMENT_TAKEN, processes_under
from suite_snapshots import wait_for_the_seed

from payments_platform.core.local.processes import alive
from payments_platform.core.ops.terraform import find_mirror

from cli_runner import CLI, run_cli

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO / "environments.toml", tmp_path / "environments.toml")
    return tmp_path


def local(workdir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """In a process of its own: `local` takes over the signals and starts processes, as for a user."""
    config = workdir / "environments.toml"
    return run_cli("--config", config, "local", *args, cwd=workdir, process=True, timeout=timeout)


def run_dir_entries(workdir: Path) -> list[str]:
    run_dir = workdir / ".payments-local"
    return sorted(p.name for p in run_dir.iterdir() if p.name != "lock") if run_dir.exists() else []


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def test_port_in_use_is_one_line_and_starts_nothing(workdir: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = local(workdir, "up", "--port", str(port))
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use" in one_line_error(result)
    assert run_dir_entries(workdir) == []


@pytest.mark.parametrize("port", ["http", "70000", "-1"])
def test_a_port_that_is_no_port_is_a_usage_error(workdir: Path, port: str):
    result = local(workdir, "up", "--port", port)
    assert result.returncode == 2 and "is not a port number" in result.stderr and "Traceback" not in result.stderr


def test_no_terraform_is_one_line(workdir: Path):
    result = local(workdir, "up", "--terraform", str(workdir / "no-terraform-here"))
    assert result.returncode == 2
    assert "terraform binary not found" in one_line_error(result)
    assert run_dir_entries(workdir) == []


def test_a_mirror_without_the_provider_is_one_line(workdir: Path):
    (workdir / "empty-mirror").mkdir()
    result = local(workdir, "up", "--provider-mirror", str(workdir / "empty-mirror"))
    assert result.returncode == 2
    assert "has no registry.terraform.io/hashicorp/aws directory" in one_line_error(result)
    assert run_dir_entries(workdir) == []


def test_an_environment_without_an_emulator_endpoint_is_refused(workdir: Path):
    result = local(workdir, "up", "--env", "dev")
    assert result.returncode == 2
    assert "has no aws_endpoint" in one_line_error(result)


def test_watch_with_keep_is_refused_in_one_line(workdir: Path):
    result = local(workdir, "up", "--watch", "--keep")
    assert result.returncode == 2
    assert "--watch serves saved changes in the foreground" in one_line_error(result)
    assert run_dir_entries(workdir) == []


def test_a_synth_that_fails_stops_the_emulator_started_beside_it(workdir: Path):
    config = workdir / "environments.toml"
    local_messaging = "[environments.local.settings.messaging]\n"
    config.write_text(config.read_text().replace(local_messaging, local_messaging + "audit_max_receive_count = 0\n"))
    result = local(workdir, "up")
    assert result.returncode == 2
    assert "setting 'audit_max_receive_count'" in one_line_error(result)
    assert "→ stop the emulator" in result.stdout
    assert processes_under(workdir) == [] and run_dir_entries(workdir) == []


def test_down_with_nothing_recorded_says_so(workdir: Path):
    result = local(workdir, "down")
    assert result.returncode == 0 and "nothing to clean up" in result.stdout


def fake_run(workdir: Path, **record: object) -> Path:
    run_dir = workdir / ".payments-local"
    run_dir.mkdir(exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps({"environment": "local", **record}))
    (run_dir / "gateway.log").write_text("left over\n")
    return run_dir


def test_a_second_up_while_one_runs_is_refused_and_disturbs_nothing(workdir: Path):
    running = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        fake_run(workdir, emulator_pid=running.pid, endpoint="http://127.0.0.1:1", url="http://127.0.0.1:2/prod")
        result = local(workdir, "up")
        assert result.returncode == 2
        assert "a local run is already up (http://127.0.0.1:2/prod)" in one_line_error(result)
        assert alive(running.pid) and run_dir_entries(workdir) == ["gateway.log", "run.json"]
        cleaned = local(workdir, "down")  # the emulator is "alive" but unreachable: down still stops it
        assert cleaned.returncode == 0, cleaned.stderr
        running.wait(timeout=15)
        assert run_dir_entries(workdir) == []
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()


def test_down_cleans_up_after_a_crashed_run(workdir: Path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    fake_run(workdir, emulator_pid=dead.pid, gateway_pid=dead.pid, applied=True)
    result = local(workdir, "down")
    assert result.returncode == 0, result.stderr
    assert "the emulator is gone" in result.stdout
    assert run_dir_entries(workdir) == []


# --------------------------------------------------------------------------- faults during apply


def needs_terraform() -> None:
    if shutil.which("terraform") is None or find_mirror() is None:
        pytest.skip("needs terraform and an offline provider mirror")


def start_up(workdir: Path) -> tuple[subprocess.Popen, dict]:
    """`local up` in the background, returned once terraform apply is under way: its first resource
    made, the rest being created (the SQS queues' settle waits hold it there for a minute);
    --fresh: these faults are the cold path's, a snapshot would leave no apply to interrupt."""
    process = subprocess.Popen(
        [*CLI, "--config", str(workdir / "environments.toml"), "local", "up", "--fresh"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **CTRL_C_ABLE,  # what this test sends must reach the CLI as a terminal's Ctrl-C would
    )
    record_file, terraform_log = workdir / ".payments-local" / "run.json", workdir / ".payments-local" / "terraform.log"
    deadline = time.monotonic() + 300  # the synth and init before it take minutes under a parallel suite's load
    record: dict = {}
    while time.monotonic() < deadline:
        if record_file.exists():
            record = json.loads(record_file.read_text())
            if record.get("applied") and "Creation complete" in _text_of(terraform_log):
                break
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    assert record.get("applied") and "Creation complete" in _text_of(terraform_log), "terraform apply made nothing"
    return process, record


def _text_of(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@pytest.mark.terraform
def test_the_emulator_dying_mid_apply_ends_with_one_line_and_nothing_left(workdir: Path):
    needs_terraform()
    process, record = start_up(workdir)
    os.kill(record["emulator_pid"], signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 2, stdout[-2000:] + stderr
    assert "terraform apply failed" in one_line_error(subprocess.CompletedProcess([], 2, stdout, stderr))
    assert not alive(record["emulator_pid"])
    assert processes_under(workdir) == []
    assert run_dir_entries(workdir) == []


@pytest.mark.terraform
def test_ctrl_c_during_apply_stops_everything_and_leaves_nothing(workdir: Path):
    needs_terraform()
    process, record = start_up(workdir)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stdout[-2000:] + stderr
    assert "interrupted" in stderr and "Traceback" not in stderr + stdout
    assert not alive(record["emulator_pid"])
    assert processes_under(workdir) == []
    assert run_dir_entries(workdir) == []


@pytest.mark.terraform
@pytest.mark.warm_start
def test_up_in_the_foreground_serves_prints_requests_and_cleans_up_on_ctrl_c(workdir: Path):
    """What `make up` does: up, the URL and key lines, every request printed, Ctrl-C → stop everything (the
    deployment goes with the emulator that holds it). From the suite's snapshot, as a second `make up` is."""
    needs_terraform()
    wait_for_the_seed()
    from payments_platform.core.deployment_checks import http_request as request
    from payments_platform.plugins.api.local_checks import payment_body

    process = subprocess.Popen(
        [*CLI, "--config", str(workdir / "environments.toml"), "local", "up"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        printed: list[str] = []
        assert process.stdout is not None
        while not any(line.startswith("Ctrl-C stops everything") for line in printed):
            line = process.stdout.readline()
            assert line, "local up ended before serving: " + "".join(printed[-20:]) + process.stderr.read()
            printed.append(line)
        url = next(line.split()[1] for line in printed if line.startswith("API: "))
        keys = [line.split()[2] for line in printed if line.startswith("API key: ")]
        assert len(keys) == 2 and any("curl -si -X POST" in line for line in printed)
        # each step, with its time: an apply, or (warm) the plan that judges the restored snapshot
        assert any(line.startswith(("→ terraform apply", "→ terraform plan")) for line in printed)
        created = request(
            "POST",
            f"{url}/transactions",
            body=payment_body("foreground"),
            headers={"Content-Type": "application/json", "x-api-key": keys[0], "Idempotency-Key": "foreground-1"},
        )
        assert created.status in PAYMENT_TAKEN, created.body
        record = json.loads((workdir / ".payments-local" / "run.json").read_text())
        # the processor's REPORT line: before the request's line for a 201, after it for a 202
        while not (
            any(f"POST /prod/transactions → {created.status}" in line for line in printed)
            and any(line.startswith("[transaction-processor-local] REPORT RequestId") for line in printed)
        ):
            line = process.stdout.readline()
            assert line, "local up ended before printing the request: " + "".join(printed[-20:])
            printed.append(line)
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground group
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, stderr
    assert "stopping it removes them" in stdout and "stopped; nothing left running" in stdout
    assert "Traceback" not in stderr, stderr
    assert not alive(record["emulator_pid"]) and not alive(record["gateway_pid"])
    assert processes_under(workdir) == []
    assert run_dir_entries(workdir) == []
