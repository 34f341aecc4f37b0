"""Case 3 of issue #18, against real `local up` runs: nothing outlives them, checked by PID.

* `make up 2>&1 | tee up.log`, then Ctrl-C: tee dies first; the teardown runs all the same.
* SIGHUP (the terminal closed) tears down as Ctrl-C does.
* SIGKILL of the CLI: the emulator, the gateway and its containers stop on their own within 5 s;
  `local down` finishes the rest from the run directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from local_support import PAYMENT_TAKEN, processes_under, seeded_workdir

from payments_platform.core.deployment_checks import http_request as request
from payments_platform.core.local.processes import alive
from payments_platform.plugins.api.local_checks import payment_body

from cli_runner import CLI

# Not about the cold path: each starts from the suite's snapshot (tests/suite_snapshots.py).
pytestmark = [pytest.mark.terraform, pytest.mark.warm_start]

REPO = Path(__file__).resolve().parents[3]
SERVING = "Ctrl-C stops everything"
PARENT_DEATH_LIMIT_S = 5.0


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return seeded_workdir(tmp_path)


def up_command(workdir: Path) -> list[str]:
    return [*CLI, "--config", str(workdir / "environments.toml"), "local", "up"]


def wait_serving(output: Path, process: subprocess.Popen, limit: float = 600) -> str:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        text = output.read_text(errors="replace") if output.exists() else ""
        if SERVING in text:
            return text
        assert process.poll() is None, text[-3000:]
        time.sleep(0.5)
    raise AssertionError("local up did not serve in time")


def record(workdir: Path) -> dict:
    return json.loads((workdir / ".payments-local" / "run.json").read_text())


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def start_a_container(url: str, key: str) -> None:
    """One payment, so the gateway runs a function container (a process to check for)."""
    response = request(
        "POST",
        f"{url}/transactions",
        body=payment_body("orphan-check"),
        headers={"Content-Type": "application/json", "x-api-key": key, "Idempotency-Key": f"orphan-{time.time()}"},
    )
    assert response.status in PAYMENT_TAKEN, response.body


def serving_processes(text: str, workdir: Path) -> tuple[dict, list[int]]:
    run = record(workdir)
    key = next(line.split()[2] for line in text.splitlines() if line.startswith("API key: "))
    start_a_container(run["url"], key)
    containers = children_of(run["gateway_pid"])
    assert containers, "no function container started"
    return run, containers


def run_dir_entries(workdir: Path) -> list[str]:
    run_dir = workdir / ".payments-local"
    return sorted(p.name for p in run_dir.iterdir() if p.name != "lock") if run_dir.exists() else []


def assert_nothing_left(workdir: Path, pids: list[int]) -> None:
    assert [pid for pid in pids if alive(pid)] == []
    assert processes_under(workdir) == []
    assert run_dir_entries(workdir) == []


def test_tee_dying_first_then_ctrl_c_still_tears_everything_down(workdir: Path):
    log = workdir / "up.log"
    command = " ".join(f"'{part}'" for part in up_command(workdir))
    pipeline = subprocess.Popen(
        ["sh", "-c", f"{command} 2>&1 | tee {log} > /dev/null"], cwd=workdir, start_new_session=True
    )
    try:
        text = wait_serving(log, pipeline)
        run, containers = serving_processes(text, workdir)
        group = children_of(pipeline.pid)
        tee = next(p for p in group if Path(f"/proc/{p}/comm").read_text().strip() == "tee")
        cli = next(p for p in group if p != tee)
        os.kill(tee, signal.SIGKILL)  # the reader goes first
        started = time.monotonic()
        os.killpg(pipeline.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground group
        while alive(cli) and time.monotonic() - started < 300:
            time.sleep(0.1)
        teardown_s = time.monotonic() - started
        pipeline.wait(timeout=60)
    finally:
        if pipeline.poll() is None:
            os.killpg(pipeline.pid, signal.SIGKILL)
            pipeline.wait()
    print(f"\ncase 3 (tee gone, Ctrl-C): teardown {teardown_s:.1f} s")
    assert_nothing_left(workdir, [cli, run["emulator_pid"], run["gateway_pid"], *containers])


def test_sighup_tears_down_as_ctrl_c_does(workdir: Path):
    output = workdir / "up.out"
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            up_command(workdir), cwd=workdir, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        text = wait_serving(output, process)
        run, containers = serving_processes(text, workdir)
        started = time.monotonic()
        process.send_signal(signal.SIGHUP)
        assert process.wait(timeout=300) == 0, output.read_text()[-3000:]
        teardown_s = time.monotonic() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print(f"\ncase 3 (SIGHUP): teardown {teardown_s:.1f} s")
    text = output.read_text()
    assert (
        "stopping (SIGHUP)" in text and "stopping it removes them" in text and "stopped; nothing left running" in text
    )
    assert_nothing_left(workdir, [run["emulator_pid"], run["gateway_pid"], *containers])


def test_sigkill_of_the_cli_stops_its_processes_within_5_s_and_down_finishes(workdir: Path):
    output = workdir / "up.out"
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            up_command(workdir), cwd=workdir, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        text = wait_serving(output, process)
        run, containers = serving_processes(text, workdir)
        process.kill()  # SIGKILL: no handler, no teardown of its own
        started = time.monotonic()
        process.wait()
        survivors = [run["emulator_pid"], run["gateway_pid"], *containers]
        while any(alive(pid) for pid in survivors) and time.monotonic() - started < PARENT_DEATH_LIMIT_S + 5:
            time.sleep(0.05)
        stopped_s = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    print(f"\ncase 3 (SIGKILL of the CLI): emulator, gateway and containers gone in {stopped_s:.1f} s")
    assert [pid for pid in survivors if alive(pid)] == []
    assert stopped_s < PARENT_DEATH_LIMIT_S
    down = subprocess.run(
        [*CLI, "--config", str(workdir / "environments.toml"), "local", "down"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert down.returncode == 0, down.stderr
    assert "the emulator is gone" in down.stdout and "cleaned up" in down.stdout
    assert_nothing_left(workdir, survivors)
