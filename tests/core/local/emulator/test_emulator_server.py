"""The emulator process (core/local/emulator/server.py): ready file, IAM from the first request,
the administrator, clean exits, one line for a port in use. Each process a test starts is gone
when it ends."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from payments_platform.core.local.processes import wait_ready
from payments_platform.core.testing.emulator import emulator_command, running_emulator, stop_emulator


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_ready_file_names_the_process_and_its_endpoint(emulator):
    ready = json.loads((emulator.log_file.parent / "emulator.ready.json").read_text())
    assert ready == {
        "pid": emulator.pid,
        "host": "127.0.0.1",
        "port": emulator.port,
        "endpoint": f"http://127.0.0.1:{emulator.port}",
    }


def test_the_endpoint_file_names_the_endpoint_at_once_and_a_request_sent_to_it_waits_for_moto(tmp_path):
    ready_file, endpoint_file = tmp_path / "ready.json", tmp_path / "endpoint.json"
    command = emulator_command(ready_file, tmp_path / "log", extra_args=["--endpoint-file", str(endpoint_file)])
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        early = wait_ready(process, endpoint_file, what="the emulator", log_file=tmp_path / "log")
        try:  # `local up` synthesizes meanwhile; a request sent now waits in the listen queue, not refused
            urllib.request.urlopen(f"{early['endpoint']}/moto-api/", timeout=60).close()
        except urllib.error.HTTPError:
            pass  # answered: that is all this asks
        assert wait_ready(process, ready_file, what="the emulator", log_file=tmp_path / "log") == early
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert not endpoint_file.exists() and not ready_file.exists()
    finally:
        stop_emulator(process)


def test_iam_is_enforced_from_the_very_first_request(tmp_path):
    with running_emulator(tmp_path) as fresh:
        session = boto3.session.Session(
            region_name="us-east-1", aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x"
        )
        with pytest.raises(ClientError) as caught:
            session.client("sqs", endpoint_url=fresh.endpoint).list_queues()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_the_administrator_key_survives_a_moto_reset(tmp_path):
    with running_emulator(tmp_path) as fresh:  # a reset wipes every backend: not the shared emulator
        request = urllib.request.Request(f"{fresh.endpoint}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        sqs = fresh.admin_session().client("sqs", endpoint_url=fresh.endpoint)
        assert "QueueUrl" in sqs.create_queue(QueueName="after-reset")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_the_process_with_exit_0_and_removes_the_ready_file(tmp_path, signum):
    with running_emulator(tmp_path) as running:
        running.process.send_signal(signum)
        assert running.process.wait(timeout=15) == 0
        assert not (tmp_path / "emulator.ready.json").exists()
        stderr = running.process.stderr.read().decode()
    assert "Traceback" not in stderr and "Traceback" not in running.log()
    assert not process_exists(running.pid)


def test_the_emulator_stops_when_its_parent_process_is_gone(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with running_emulator(tmp_path, extra_args=["--parent-pid", str(parent.pid)]) as running:
            parent.kill()
            parent.wait()
            assert running.process.wait(timeout=15) == 0
        assert not process_exists(running.pid)
    finally:
        parent.kill()
        parent.wait()


def test_a_port_in_use_is_one_line_on_stderr_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = subprocess.Popen(
            emulator_command(tmp_path / "ready.json", tmp_path / "log", port=port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            stdout, stderr = process.communicate(timeout=60)
        finally:
            stop_emulator(process)
    assert process.returncode == 2
    assert stderr.decode().splitlines() == [f"emulator: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert stdout == b"" and not (tmp_path / "ready.json").exists()
