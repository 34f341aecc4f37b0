"""`local up` waits for the first rotation of every secret Terraform created with no value and
rotates at once (core/local/first_rotations.py)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from payments_platform.core.local.first_rotations import immediately_rotated_secrets, wait_for_first_rotations
from payments_platform.core.local.processes import LocalRunError

CONFIG = {
    "resource": {
        "aws_secretsmanager_secret": {"key_1": {"name": "card-fingerprint-key-local"}, "other": {"name": "other"}},
        "aws_secretsmanager_secret_rotation": {
            "rot": {"secret_id": "${aws_secretsmanager_secret.key_1.id}", "rotate_immediately": True},
            "later": {"secret_id": "${aws_secretsmanager_secret.other.id}", "rotate_immediately": False},
        },
    }
}


def test_only_secrets_rotated_at_once_are_waited_for():
    assert immediately_rotated_secrets(CONFIG) == ["card-fingerprint-key-local"]
    assert immediately_rotated_secrets({"resource": {}}) == []


@pytest.fixture
def secrets(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_the_wait_ends_when_the_secret_has_a_current_version(secrets):
    secrets.create_secret(Name="card-fingerprint-key-local")
    sleeps = []

    def first_value_arrives(seconds: float) -> None:
        sleeps.append(seconds)
        secrets.put_secret_value(SecretId="card-fingerprint-key-local", SecretString="k" * 64)

    wait_for_first_rotations(secrets, CONFIG, sleep=first_value_arrives)
    assert sleeps == [0.5]


def test_a_first_rotation_that_never_finishes_stops_local_up_naming_the_secret(secrets):
    secrets.create_secret(Name="card-fingerprint-key-local")
    with pytest.raises(LocalRunError, match="first rotation of card-fingerprint-key-local did not finish"):
        wait_for_first_rotations(secrets, CONFIG, wait_s=0.0, sleep=lambda s: None)
