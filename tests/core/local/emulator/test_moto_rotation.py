"""Secrets Manager's RotateSecret in the emulator runs the rotation function's steps through the
local Lambda Invoke API named by the gateway's ready file (core/local/emulator/moto_rotation.py) -- here a
loopback Invoke API running the real rotation handler in this process, against moto."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from payments_platform.core.local.emulator import moto_rotation
from payments_platform.core.local.emulator.admin import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
from payments_platform.core.local.lambdafn import invoke_auth
from payments_platform.core.testing.moto_functions import placeholder_function
from payments_platform.runtime import aws_clients, fingerprint_rotation

REGION = "us-east-1"
FIRST_KEY = base64.b64encode(b"\x05" * 48).decode()
ROTATOR = "card-fingerprint-rotator-test"


class InvokeApi(ThreadingHTTPServer):
    """Lambda's Invoke API on loopback: checks the signature as the gateway's does, runs the rotation
    handler, answers as Lambda does."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _InvokeHandler)
        self.calls: list[tuple[str, str]] = []
        self.failures: list[str] = []
        self.fail_step: str | None = None


class _InvokeHandler(BaseHTTPRequestHandler):
    server: InvokeApi

    def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
        payload = self.rfile.read(int(self.headers["Content-Length"]))
        scope = {
            "method": "POST",
            "path": self.path,
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in self.headers.items()],
        }
        try:  # as the gateway's Invoke API does: the emulator must sign its steps
            invoke_auth.authenticate(scope, payload, keys={ADMIN_ACCESS_KEY_ID: ADMIN_SECRET_ACCESS_KEY}, region=REGION)
        except invoke_auth.InvokeRefused as refused:
            self.server.failures.append(f"refused: {refused.error_type}")
            self.send_response(refused.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        event = json.loads(payload)
        name = self.path.split("/functions/", 1)[1].split("/", 1)[0]
        self.server.calls.append((name, event["Step"]))
        headers = {"Content-Type": "application/json"}
        try:
            if event["Step"] == self.server.fail_step:
                raise fingerprint_rotation.RotationError("made to fail")
            fingerprint_rotation.handler(event, None)
            body: dict[str, Any] | None = None
        except Exception as error:
            self.server.failures.append(f"{event['Step']}: {error}")
            headers["X-Amz-Function-Error"] = "Unhandled"
            body = {"errorType": type(error).__name__, "errorMessage": str(error)}
        payload = json.dumps(body).encode()
        self.send_response(200)
        for name, value in {**headers, "Content-Length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def invoke_api() -> Iterator[InvokeApi]:
    server = InvokeApi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def secrets(monkeypatch, tmp_path) -> Iterator[Any]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ENVIRONMENT": "test",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    try:
        with mock_aws():
            aws_clients.reset_clients()
            yield boto3.client("secretsmanager", region_name=REGION)
            aws_clients.reset_clients()
    finally:  # the test process's moto as it was (the patch belongs to the emulator process)
        moto_rotation.PATCHES.uninstall()


def deployed_rotation(secrets: Any) -> tuple[str, str]:
    """The secret and its rotation function, as Terraform leaves them: the secret created empty, its
    value put as a version (aws_secretsmanager_secret_version); moto checks the function exists."""
    arn = secrets.create_secret(Name="card-fingerprint-key-test")["ARN"]
    secrets.put_secret_value(SecretId=arn, SecretString=FIRST_KEY)
    return arn, placeholder_function(ROTATOR, region=REGION)


def ready_file(path: Path, server: InvokeApi) -> Path:
    port = server.server_address[1]
    path.write_text(json.dumps({"pid": 1, "port": port, "url": f"http://127.0.0.1:{port}/prod"}))
    return path


def test_a_rotation_runs_each_step_on_the_local_lambda_runtime(secrets, invoke_api, tmp_path):
    moto_rotation.install(ready_file(tmp_path / "gateway.ready", invoke_api))
    arn, function_arn = deployed_rotation(secrets)
    version = secrets.rotate_secret(
        SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 90}
    )["VersionId"]
    assert invoke_api.calls == [(ROTATOR, s) for s in ("createSecret", "setSecret", "testSecret", "finishSecret")]
    assert invoke_api.failures == []
    assert secrets.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"] == FIRST_KEY
    current = secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    assert current["VersionId"] == version and current["SecretString"] != FIRST_KEY


def test_a_step_the_function_fails_stops_the_rotation_naming_the_step_and_the_current_key_stays(
    secrets, invoke_api, tmp_path
):
    moto_rotation.install(ready_file(tmp_path / "gateway.ready", invoke_api))
    invoke_api.fail_step = "testSecret"
    arn, function_arn = deployed_rotation(secrets)
    with pytest.raises(ClientError, match="failed testSecret \\(RotationError\\)") as raised:
        secrets.rotate_secret(
            SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 90}
        )
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    assert [step for _, step in invoke_api.calls] == ["createSecret", "setSecret", "testSecret"]
    assert secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"] == FIRST_KEY


def test_an_immediate_rotation_without_a_local_lambda_runtime_is_refused_clearly(secrets):
    moto_rotation.install(None)  # an emulator started with no gateway to run functions
    arn, function_arn = deployed_rotation(secrets)
    with pytest.raises(ClientError, match="local Lambda runtime is not running"):
        secrets.rotate_secret(
            SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 90}
        )


def test_a_rotation_configured_during_apply_tests_the_function_once_the_gateway_is_ready(secrets, invoke_api, tmp_path):
    runtime_file = tmp_path / "gateway.ready"
    moto_rotation.install(runtime_file)
    arn, function_arn = deployed_rotation(secrets)
    # Terraform's aws_secretsmanager_secret_rotation with rotate_immediately = false: only testSecret.
    secrets.rotate_secret(
        SecretId=arn,
        RotationLambdaARN=function_arn,
        RotationRules={"AutomaticallyAfterDays": 90},
        RotateImmediately=False,
    )
    assert invoke_api.calls == []
    ready_file(runtime_file, invoke_api)
    deadline = time.monotonic() + 10
    while not invoke_api.calls and time.monotonic() < deadline:
        time.sleep(0.1)
    assert invoke_api.calls == [(ROTATOR, "testSecret")]
    assert invoke_api.failures == []  # the pending version held the current key, as on AWS
    assert secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"] == FIRST_KEY


def test_a_rotation_naming_no_function_uses_the_one_configured_on_the_secret(secrets, invoke_api, tmp_path):
    moto_rotation.install(ready_file(tmp_path / "gateway.ready", invoke_api))
    arn, function_arn = deployed_rotation(secrets)
    secrets.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 90})
    second = secrets.rotate_secret(SecretId=arn)["VersionId"]  # `aws secretsmanager rotate-secret --secret-id`
    assert [step for _, step in invoke_api.calls] == ["createSecret", "setSecret", "testSecret", "finishSecret"] * 2
    current = secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    assert current["VersionId"] == second and current["SecretString"] not in (FIRST_KEY, "")
    assert secrets.describe_secret(SecretId=arn)["RotationLambdaARN"] == function_arn


def wait_for_steps(server: InvokeApi, count: int) -> None:
    deadline = time.monotonic() + 15
    while len(server.calls) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_secret_created_with_no_value_gets_its_first_key_from_its_first_rotation(secrets, invoke_api, tmp_path):
    """Terraform creates the card-fingerprint secret with no version and configures rotation with
    rotate_immediately = true during apply, before the gateway runs: the four steps run in order
    once it is ready, createSecret makes the first key, finishSecret makes it AWSCURRENT."""
    runtime_file = tmp_path / "gateway.ready"
    moto_rotation.install(runtime_file)
    arn = secrets.create_secret(Name="card-fingerprint-key-test")["ARN"]
    function_arn = placeholder_function(ROTATOR, region=REGION)
    version = secrets.rotate_secret(
        SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 90}
    )["VersionId"]
    assert invoke_api.calls == []
    with pytest.raises(ClientError) as before:  # no key yet: the runtime answers 503 in this window
        secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    assert before.value.response["Error"]["Code"] == "ResourceNotFoundException"
    ready_file(runtime_file, invoke_api)
    wait_for_steps(invoke_api, 4)
    assert invoke_api.calls == [(ROTATOR, s) for s in ("createSecret", "setSecret", "testSecret", "finishSecret")]
    assert invoke_api.failures == []
    current = secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    first_key = current["SecretString"]
    assert current["VersionId"] == version and len(first_key) == 64 and first_key.isalnum()
    assert secrets.get_secret_value(SecretId=arn)["VersionId"] == version  # the default version too
    # The scheduled rotations go on from there: the first key becomes AWSPREVIOUS.
    second = secrets.rotate_secret(SecretId=arn)["VersionId"]
    assert secrets.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"] == first_key
    assert secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["VersionId"] == second


def test_a_failed_first_rotation_leaves_no_key_and_the_next_rotation_makes_it(secrets, invoke_api, tmp_path):
    moto_rotation.install(ready_file(tmp_path / "gateway.ready", invoke_api))
    invoke_api.fail_step = "testSecret"
    arn = secrets.create_secret(Name="card-fingerprint-key-test")["ARN"]
    function_arn = placeholder_function(ROTATOR, region=REGION)
    with pytest.raises(ClientError, match="failed testSecret"):
        secrets.rotate_secret(
            SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 90}
        )
    with pytest.raises(ClientError):
        secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    invoke_api.fail_step = None
    version = secrets.rotate_secret(SecretId=arn)["VersionId"]
    current = secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    assert current["VersionId"] == version and len(current["SecretString"]) == 64
