"""Rotating the card-fingerprint key mid-stream: replays from before the rotation still replay,
new requests use the new key once every container knows it, and no key ever reaches a log."""

from __future__ import annotations

import base64
import json
import time

import boto3
import pytest

from payments_platform.runtime import transactions
from payments_platform.runtime.fingerprint_keyring import (
    KEY_ACTIVATION_DELAY_SECONDS,
    KEYRING_REFRESH_SECONDS,
    FingerprintKeyring,
    KeyringSource,
    KeyVersion,
)
from payments_platform.runtime.settings import FingerprintKeys, decode_secret

from .support import REGION, FakeClock, api_event, body_of, create, creator_with_clock, valid_body

KEY_V1 = base64.b64encode(b"\x01" * 48).decode()
KEY_V2 = base64.b64encode(b"\x02" * 48).decode()
V1 = FingerprintKeys.from_secret(decode_secret(KEY_V1)).version
V2 = FingerprintKeys.from_secret(decode_secret(KEY_V2)).version


@pytest.fixture
def secret(aws, monkeypatch):
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="card-fingerprint-key", SecretString=KEY_V1)["ARN"]
    monkeypatch.delenv("CARD_FINGERPRINT_KEY")
    monkeypatch.setenv("CARD_FINGERPRINT_SECRET_ARN", arn)

    def rotate() -> None:
        # What the documented rotation command does: a new version becomes AWSCURRENT, the old one AWSPREVIOUS.
        secrets.put_secret_value(SecretId=arn, SecretString=KEY_V2)

    return rotate


@pytest.fixture
def clock(aws, monkeypatch):
    fake = FakeClock(start=time.time())  # Secrets Manager dates its versions with the real clock
    creator = creator_with_clock(aws, fake)
    monkeypatch.setattr(transactions, "transaction_creator", lambda: creator)
    return fake


def record_of(aws, response) -> dict:
    txn = body_of(response)["transaction_id"]
    [item] = [i for i in aws.table_items() if i.get("target_transaction_id", {}).get("S") == txn]
    return item


def transaction_of(aws, response) -> dict:
    [item] = [i for i in aws.transaction_items() if i["transaction_id"]["S"] == body_of(response)["transaction_id"]]
    return item


def post(key: str, **body):
    return create(api_event(valid_body(**body), idempotency_key=key))


def test_records_carry_the_key_version_they_were_made_with(aws, secret, clock):
    first = post("before")
    assert record_of(aws, first)["key_version"]["S"] == V1
    assert transaction_of(aws, first)["card_fingerprint_key_version"]["S"] == V1


def test_a_new_version_is_checked_at_once_but_written_with_only_after_the_activation_delay(aws, secret, clock):
    post("warm-up")
    secret()
    clock.now += KEYRING_REFRESH_SECONDS + 1
    during = post("during-activation")
    assert record_of(aws, during)["key_version"]["S"] == V1
    clock.now += KEY_ACTIVATION_DELAY_SECONDS
    after = post("after-activation")
    assert record_of(aws, after)["key_version"]["S"] == V2
    assert transaction_of(aws, after)["card_fingerprint_key_version"]["S"] == V2


def test_replays_from_before_the_rotation_still_replay_after_it(aws, secret, clock):
    before = post("before")
    secret()
    clock.now += KEYRING_REFRESH_SECONDS + KEY_ACTIVATION_DELAY_SECONDS + 1
    replay = post("before")
    assert replay["statusCode"] == 201 and replay["headers"]["Idempotent-Replayed"] == "true"
    assert replay["body"] == before["body"]
    assert post("before", amount=999)["statusCode"] == 422  # compared under the record's own key
    assert len(aws.transaction_items()) == 1


def test_a_container_holding_the_old_keyring_finds_records_made_with_the_new_key(aws, secret, clock, monkeypatch):
    stale = creator_with_clock(aws, clock)
    monkeypatch.setattr(transactions, "transaction_creator", lambda: stale)
    post("warm-up")  # the stale container loads v1 only
    secret()
    clock.now += KEYRING_REFRESH_SECONDS + KEY_ACTIVATION_DELAY_SECONDS + 1
    fresh = creator_with_clock(aws, clock)
    monkeypatch.setattr(transactions, "transaction_creator", lambda: fresh)
    created = post("new-key")
    assert record_of(aws, created)["key_version"]["S"] == V2
    monkeypatch.setattr(transactions, "transaction_creator", lambda: stale)
    replay = post("new-key")
    assert replay["statusCode"] == 201 and replay["headers"]["Idempotent-Replayed"] == "true"
    assert body_of(replay)["transaction_id"] == body_of(created)["transaction_id"]


def test_a_record_under_a_key_no_longer_held_is_a_500_naming_the_record(aws, secret, clock, capsys):
    first = post("orphaned")
    item = record_of(aws, first)
    item["key_version"] = {"S": "kretired000"}
    aws.dynamodb.put_item(TableName="payments-test-transactions", Item=item)
    response = post("orphaned")
    assert response["statusCode"] == 500
    out = capsys.readouterr().out
    assert "idempotency.unknown_key_version" in out and item["transaction_id"]["S"] in out


def test_no_key_material_reaches_a_log_line(aws, secret, clock, capsys):
    post("before")
    secret()
    clock.now += KEYRING_REFRESH_SECONDS + KEY_ACTIVATION_DELAY_SECONDS + 1
    post("before")
    post("after")
    out = capsys.readouterr().out
    keys = [FingerprintKeys.from_secret(decode_secret(k)) for k in (KEY_V1, KEY_V2)]
    material = [KEY_V1, KEY_V2] + [getattr(k, part).hex() for k in keys for part in ("card", "request", "idempotency")]
    assert out and not [m for m in material if m in out]
    assert all(json.loads(line) for line in out.splitlines() if line.startswith("{"))


def test_a_failed_keyring_reload_keeps_the_keys_it_has_and_says_so(capsys):
    clock = FakeClock()
    keyring = FingerprintKeyring((KeyVersion(FingerprintKeys.from_secret(b"k" * 32)),))
    loads = [keyring]

    def load():
        if not loads:
            raise ConnectionError("secrets manager unreachable")
        return loads.pop()

    source = KeyringSource(load, clock)
    assert source() is keyring
    clock.now += KEYRING_REFRESH_SECONDS + 1
    assert source() is keyring
    assert "fingerprint_keyring.refresh_failed" in capsys.readouterr().out
