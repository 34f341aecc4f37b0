"""Rotating the card-fingerprint key on the deployment: `aws secretsmanager rotate-secret` runs the
deployed rotation function on the local Lambda runtime (under its own identity, IAM enforced);
a payment made before the rotation still replays, new payments use the new key once the
processor's keyring has it, and neither key reaches a log."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from e2e_support import REGION, LocalDeployment

from payments_platform.core.deployment_checks import http_request as request
from payments_platform.plugins.api.local_checks import payment_body
from payments_platform.runtime import aws_clients, transactions
from payments_platform.runtime.dispatch import TransactionDispatcher
from payments_platform.runtime.fingerprint_keyring import (
    KEY_ACTIVATION_DELAY_SECONDS,
    KEYRING_REFRESH_SECONDS,
    KeyringSource,
)
from payments_platform.runtime.fingerprint_secret import load_fingerprint_keyring
from payments_platform.runtime.settings import FingerprintKeys, decode_secret
from payments_platform.runtime.transaction_creation import TransactionCreator
from payments_platform.runtime.transaction_store import TransactionStore

pytestmark = pytest.mark.terraform

STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]


def function_name(deployment: LocalDeployment, key: str) -> str:
    return f"{key}-{deployment.environment.suffix}"


def post(deployment: LocalDeployment, api_key: str, idempotency_key: str, reference: str):
    return request(
        "POST",
        f"{deployment.url}/transactions",
        body=payment_body(reference),
        headers={
            "Content-Type": "application/json",
            "x-api-key": api_key,
            "Idempotency-Key": idempotency_key,
        },
    )


def version_of(secret: str) -> str:
    return FingerprintKeys.from_secret(decode_secret(secret)).version


def log_messages(deployment: LocalDeployment, group: str, version_id: str) -> list[str]:
    """The group's lines once the rotation to ``version_id`` has logged its steps (the first
    rotation, which made the first key during `local up`, logged its own before)."""
    logs = deployment.client("logs")
    deadline = time.monotonic() + 30  # the local runtime ships a function's lines every 0.5 s
    while True:
        messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        done = sum("rotation.step_done" in m and version_id in m for m in messages)
        if done >= len(STEPS) or time.monotonic() > deadline:
            return messages
        time.sleep(0.5)


@pytest.fixture(scope="module")
def rotated(deployment: LocalDeployment):
    """A payment, then a rotation through the emulator's Secrets Manager."""
    processor = function_name(deployment, "transaction-processor")
    [spec] = [f for f in deployment.gateway_spec["functions"] if f["name"] == processor]
    secret_arn = spec["environment"]["CARD_FINGERPRINT_SECRET_ARN"]
    secrets = deployment.client("secretsmanager")
    api_key = sorted(deployment.record.api_keys.values())[0]
    idempotency_key = f"before-rotation-{uuid.uuid4()}"
    before = post(deployment, api_key, idempotency_key, "e2e-before-rotation")
    old_secret = secrets.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")
    new_version_id = secrets.rotate_secret(SecretId=secret_arn)["VersionId"]
    return {
        "secret_arn": secret_arn,
        "api_key": api_key,
        "idempotency_key": idempotency_key,
        "before": before,
        "old_secret": old_secret,
        "new_version_id": new_version_id,
        "processor": spec,
    }


def test_rotation_makes_a_new_key_current_and_keeps_the_old_one_as_previous(deployment: LocalDeployment, rotated):
    secrets = deployment.client("secretsmanager")
    current = secrets.get_secret_value(SecretId=rotated["secret_arn"], VersionStage="AWSCURRENT")
    previous = secrets.get_secret_value(SecretId=rotated["secret_arn"], VersionStage="AWSPREVIOUS")
    assert current["VersionId"] == rotated["new_version_id"]
    assert previous["VersionId"] == rotated["old_secret"]["VersionId"]
    assert current["SecretString"] != previous["SecretString"] and len(current["SecretString"]) == 64
    description = secrets.describe_secret(SecretId=rotated["secret_arn"])
    assert description["RotationEnabled"] and description["RotationRules"]["AutomaticallyAfterDays"] == 90
    assert description["RotationLambdaARN"].endswith(
        f":function:{function_name(deployment, 'card-fingerprint-rotator')}"
    )


def test_the_rotation_ran_each_step_in_the_rotator_and_no_key_reached_its_log(deployment: LocalDeployment, rotated):
    group = f"/aws/lambda/{function_name(deployment, 'card-fingerprint-rotator')}"
    messages = log_messages(deployment, group, rotated["new_version_id"])
    done = [json.loads(m)["step"] for m in messages if '"rotation.step_done"' in m and rotated["new_version_id"] in m]
    assert done == STEPS, messages[-20:]
    # (The first rotation, started by Terraform's configuration, finished before `local up` returned:
    # tests/e2e/test_secrets_outside_terraform.py and tests/core/local/emulator/test_moto_rotation.py.)
    assert not [m for m in messages if "rotation.step_failed" in m and rotated["new_version_id"] in m]
    secrets = deployment.client("secretsmanager")
    new_secret = secrets.get_secret_value(SecretId=rotated["secret_arn"], VersionStage="AWSCURRENT")["SecretString"]
    processor_messages = [
        e["message"]
        for e in deployment.client("logs").filter_log_events(
            logGroupName=f"/aws/lambda/{function_name(deployment, 'transaction-processor')}"
        )["events"]
    ]
    for secret in (rotated["old_secret"]["SecretString"], new_secret):
        assert not [m for m in messages + processor_messages if secret in m]


def test_a_payment_from_before_the_rotation_replays_through_the_gateway(deployment: LocalDeployment, rotated):
    assert rotated["before"].status == 201
    replay = post(deployment, rotated["api_key"], rotated["idempotency_key"], "e2e-before-rotation")
    assert replay.status == 201 and replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["transaction_id"] == rotated["before"].json()["transaction_id"]


def test_once_the_processor_holds_the_new_key_old_payments_replay_and_new_ones_use_it(
    deployment: LocalDeployment, rotated, monkeypatch
):
    """The processor's own code and identity, on a clock past the keyring's reload and the new
    key's activation delay (fingerprint_keyring.py): what every container does minutes later."""
    spec = rotated["processor"]
    for variable, value in {**spec["environment"], **deployment.gateway_spec["credentials"][spec["name"]]}.items():
        monkeypatch.setenv(variable, value)
    for variable, value in {
        "AWS_ENDPOINT_URL": deployment.endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("CARD_FINGERPRINT_KEY", raising=False)
    # A session of its own: botocore's session keeps the credentials it first resolved (the
    # processor's), which later tests running under another function's identity must not inherit.
    monkeypatch.setattr(aws_clients, "_session", None)
    later = lambda: time.time() + KEYRING_REFRESH_SECONDS + KEY_ACTIVATION_DELAY_SECONDS + 1  # noqa: E731
    aws_clients.reset_clients()
    try:
        creator = TransactionCreator(
            store=TransactionStore(aws_clients.client("dynamodb"), spec["environment"]["TRANSACTIONS_TABLE_NAME"]),
            dispatcher=TransactionDispatcher(
                aws_clients.client("sqs"),
                aws_clients.client("sns"),
                spec["environment"]["AUDIT_QUEUE_URL"],
                spec["environment"]["NOTIFICATIONS_TOPIC_ARN"],
                spec["environment"]["ENVIRONMENT"],
            ),
            keyring=KeyringSource(load_fingerprint_keyring, later),
            clock=later,
        )
        monkeypatch.setattr(transactions, "transaction_creator", lambda: creator)
        api_key_id = next(
            k["id"]
            for k in deployment.client("apigateway").get_api_keys(includeValues=True)["items"]
            if k["value"] == rotated["api_key"]
        )

        def create(idempotency_key: str, reference: str) -> dict:
            return transactions.handler(
                {
                    "resource": "/transactions",
                    "path": "/transactions",
                    "httpMethod": "POST",
                    "headers": {"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
                    "body": payment_body(reference).decode(),
                    "isBase64Encoded": False,
                    "requestContext": {
                        "requestId": str(uuid.uuid4()),
                        "stage": "prod",
                        "identity": {"apiKeyId": api_key_id, "sourceIp": "127.0.0.1"},
                    },
                },
                None,
            )

        replay = create(rotated["idempotency_key"], "e2e-before-rotation")
        after = create(f"after-rotation-{uuid.uuid4()}", "e2e-after-rotation")
    finally:
        aws_clients.reset_clients()
    assert replay["statusCode"] == 201 and replay["headers"]["Idempotent-Replayed"] == "true"
    assert json.loads(replay["body"])["transaction_id"] == rotated["before"].json()["transaction_id"]
    assert after["statusCode"] == 201
    new_secret = deployment.client("secretsmanager").get_secret_value(
        SecretId=rotated["secret_arn"], VersionStage="AWSCURRENT"
    )["SecretString"]
    item = deployment.client("dynamodb").query(
        TableName=spec["environment"]["TRANSACTIONS_TABLE_NAME"],
        KeyConditionExpression="transaction_id = :t",
        ExpressionAttributeValues={":t": {"S": json.loads(after["body"])["transaction_id"]}},
    )["Items"][0]
    assert item["card_fingerprint_key_version"]["S"] == version_of(new_secret)
    assert version_of(new_secret) != version_of(rotated["old_secret"]["SecretString"])
