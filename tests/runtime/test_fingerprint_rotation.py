"""The rotation function's four steps, run by moto's own RotateSecret (its Lambda invoke routed to
the handler in this process): a new key becomes AWSCURRENT, the old one AWSPREVIOUS, retries are
harmless, a broken pending value stops the rotation, requests first seen before the rotation
still replay after it, and no key value reaches a log line."""

from __future__ import annotations

import base64
import json
import time

import boto3
import pytest

from payments_platform.core.testing.moto_functions import placeholder_function
from payments_platform.runtime import fingerprint_rotation, transactions
from payments_platform.runtime.fingerprint_keyring import KEY_ACTIVATION_DELAY_SECONDS, KEYRING_REFRESH_SECONDS
from payments_platform.runtime.fingerprint_rotation import FingerprintKeyRotation, RotationError
from payments_platform.runtime.settings import FingerprintKeys, decode_secret

from .support import REGION, FakeClock, api_event, body_of, create, creator_with_clock, valid_body

FIRST_KEY = base64.b64encode(b"\x07" * 48).decode()


class RotationContext:
    function_name = "card-fingerprint-rotator-test"
    aws_request_id = "rotation-req-1"


@pytest.fixture
def rotation(aws, monkeypatch):
    """A secret with a rotation function, and ``rotate()``: Secrets Manager's RotateSecret."""
    from moto.awslambda.models import LambdaBackend

    steps: list[str] = []

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        event = json.loads(body)
        steps.append(event["Step"])
        fingerprint_rotation.handler(event, RotationContext())
        return b""

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="card-fingerprint-key-test", SecretString=FIRST_KEY)["ARN"]
    function_arn = placeholder_function("card-fingerprint-rotator-test", region=REGION)
    monkeypatch.delenv("CARD_FINGERPRINT_KEY")
    monkeypatch.setenv("CARD_FINGERPRINT_SECRET_ARN", arn)

    class Rotation:
        def __init__(self):
            self.arn, self.secrets, self.steps = arn, secrets, steps

        def rotate(self) -> str:
            return secrets.rotate_secret(
                SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 90}
            )["VersionId"]

        def value(self, stage: str) -> str:
            return secrets.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]

        def stages(self) -> dict[str, list[str]]:
            return secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]

    return Rotation()


def test_a_rotation_runs_the_four_steps_and_makes_a_new_key_current_and_the_old_one_previous(rotation):
    version = rotation.rotate()
    assert rotation.steps == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    assert "AWSCURRENT" in rotation.stages()[version]
    assert rotation.value("AWSPREVIOUS") == FIRST_KEY
    new_key = rotation.value("AWSCURRENT")
    assert new_key != FIRST_KEY and len(new_key) == 64 and new_key.isalnum()
    assert FingerprintKeys.from_secret(decode_secret(new_key)).version  # usable by the keyring


def test_a_retried_create_step_keeps_the_key_it_already_made(rotation):
    version = rotation.rotate()
    made = rotation.value("AWSCURRENT")
    FingerprintKeyRotation(rotation.secrets, rotation.arn, version).run("createSecret")  # AWSCURRENT now: a no-op
    assert rotation.value("AWSCURRENT") == made


def test_a_pending_value_that_is_no_usable_key_fails_the_rotation_without_showing_it(rotation, monkeypatch, capsys):
    monkeypatch.setattr(fingerprint_rotation, "KEY_LENGTH", 8)  # 6 bytes: too short for a fingerprint key
    with pytest.raises(Exception, match="not a usable fingerprint key"):
        rotation.rotate()
    assert rotation.steps == ["createSecret", "setSecret", "testSecret"]
    [pending] = [v for v, stages in rotation.stages().items() if stages == ["AWSPENDING"]]
    short_key = rotation.secrets.get_secret_value(SecretId=rotation.arn, VersionId=pending)["SecretString"]
    out = capsys.readouterr().out
    assert "rotation.step_failed" in out and short_key not in out
    assert rotation.value("AWSCURRENT") == FIRST_KEY


def test_a_step_for_a_version_that_is_not_pending_is_refused(rotation):
    rotation.rotate()
    [previous] = [v for v, stages in rotation.stages().items() if "AWSPREVIOUS" in stages]
    with pytest.raises(RotationError, match="not pending"):
        fingerprint_rotation.handler(
            {"Step": "finishSecret", "SecretId": rotation.arn, "ClientRequestToken": previous}, RotationContext()
        )


def test_an_event_that_is_not_a_rotation_step_is_refused(rotation):
    with pytest.raises(RotationError, match="not a Secrets Manager rotation event"):
        fingerprint_rotation.handler(
            {"Step": "dropSecret", "SecretId": rotation.arn, "ClientRequestToken": "x"}, RotationContext()
        )


def test_requests_from_before_a_rotation_replay_after_it_and_new_ones_use_the_new_key(aws, rotation, monkeypatch):
    clock = FakeClock(start=time.time())  # Secrets Manager dates its versions with the real clock
    creator = creator_with_clock(aws, clock)
    monkeypatch.setattr(transactions, "transaction_creator", lambda: creator)
    old_version = FingerprintKeys.from_secret(decode_secret(FIRST_KEY)).version
    before = create(api_event(valid_body(), idempotency_key="before-rotation"))
    rotation.rotate()
    new_version = FingerprintKeys.from_secret(decode_secret(rotation.value("AWSCURRENT"))).version
    clock.now += KEYRING_REFRESH_SECONDS + KEY_ACTIVATION_DELAY_SECONDS + 1
    replay = create(api_event(valid_body(), idempotency_key="before-rotation"))
    after = create(api_event(valid_body(), idempotency_key="after-rotation"))
    assert replay["statusCode"] == 201 and replay["body"] == before["body"]
    versions = {
        i["idempotency_record_id"]["S"]: i["card_fingerprint_key_version"]["S"] for i in aws.transaction_items()
    }
    assert sorted(versions.values()) == sorted([old_version, new_version])
    assert body_of(after)["transaction_id"] != body_of(before)["transaction_id"]


def test_no_key_value_reaches_the_rotation_log(rotation, capsys):
    rotation.rotate()
    out = capsys.readouterr().out
    assert "rotation.step_done" in out
    for key in (FIRST_KEY, rotation.value("AWSCURRENT")):
        assert key not in out
