import pytest

from payments_platform.runtime import aws_clients, transactions
from payments_platform.runtime.errors import ConfigurationError
from payments_platform.runtime.settings import FingerprintKeys, decode_secret

from .support import REGION, api_event, body_of, count_calls, create, valid_body

PLUGIN_STYLE_SECRET = "Ab3dEf6hIj9kLm2oPq5sTu8wXy1zAb4dEf7hIj0kLm3oPq6sTu9wXy2zAb5dEf8h"  # 64 alphanumerics


def test_hex_and_base64_secrets_decode():
    assert decode_secret("00" * 16) == bytes(16)
    assert len(decode_secret(PLUGIN_STYLE_SECRET)) == 48
    assert decode_secret("AAAAAAAAAAAAAAAAAAAAAA==") == bytes(16)


@pytest.mark.parametrize("raw", ["short", "00" * 15, "not base64 !!"])
def test_weak_or_garbled_secrets_are_configuration_errors(raw):
    with pytest.raises(ConfigurationError):
        decode_secret(raw)


def test_derived_keys_are_separated_by_purpose():
    keys = FingerprintKeys.from_secret(b"s" * 32)
    assert len({keys.card, keys.request, keys.idempotency}) == 3


def test_the_secret_versions_are_read_once_per_keyring_refresh_not_per_request(aws, monkeypatch):
    import boto3

    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="card-fingerprint-key", SecretString=PLUGIN_STYLE_SECRET
    )["ARN"]
    monkeypatch.delenv("CARD_FINGERPRINT_KEY")
    monkeypatch.setenv("CARD_FINGERPRINT_SECRET_ARN", arn)
    transactions.transaction_creator.cache_clear()
    calls = count_calls(aws_clients.client("secretsmanager"), aws_clients.client("dynamodb"))
    assert create(api_event(valid_body(), idempotency_key="a"))["statusCode"] == 201
    assert create(api_event(valid_body(), idempotency_key="b"))["statusCode"] == 201
    assert calls.count("secretsmanager.GetSecretValue") == 2  # AWSCURRENT, AWSPREVIOUS (none yet)


def test_a_secret_with_no_current_key_is_a_503_and_the_next_request_retries(aws, monkeypatch):
    """A missing secret and a secret whose first key is not made yet look alike to GetSecretValue
    (ResourceNotFoundException): both fail closed as a retryable 503 (was a 500 before the first key
    came from the first rotation, issue #26)."""
    monkeypatch.delenv("CARD_FINGERPRINT_KEY")
    monkeypatch.setenv("CARD_FINGERPRINT_SECRET_ARN", f"arn:aws:secretsmanager:{REGION}:123456789012:secret:missing")
    transactions.transaction_creator.cache_clear()
    response = create(api_event(valid_body()))
    assert response["statusCode"] == 503 and body_of(response)["error"]["code"] == "service_unavailable"
    monkeypatch.setenv("CARD_FINGERPRINT_KEY", "11" * 32)
    assert create(api_event(valid_body()))["statusCode"] == 201


def test_before_the_first_key_exists_requests_fail_closed_with_a_503_and_succeed_once_it_does(aws, monkeypatch):
    """The secret is created with no value; its first rotation makes the key
    (plugins/api/card_fingerprint_secret.py). In between: a retryable 503, no fingerprint."""
    import boto3

    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="card-fingerprint-key")["ARN"]  # as Terraform leaves it: no version
    monkeypatch.delenv("CARD_FINGERPRINT_KEY")
    monkeypatch.setenv("CARD_FINGERPRINT_SECRET_ARN", arn)
    transactions.transaction_creator.cache_clear()
    for idempotency_key in ("a", "a", "b"):
        response = create(api_event(valid_body(), idempotency_key=idempotency_key))
        assert response["statusCode"] == 503, response
        assert body_of(response)["error"]["code"] == "service_unavailable"
        assert response["headers"]["Retry-After"] == "5"
    assert aws.transaction_items() == []  # nothing written under an absent key
    secrets.put_secret_value(SecretId=arn, SecretString=PLUGIN_STYLE_SECRET)  # the first rotation's key
    assert create(api_event(valid_body(), idempotency_key="a"))["statusCode"] == 201


def test_a_first_key_too_weak_to_use_is_a_500_never_a_fingerprint(aws, monkeypatch):
    import boto3

    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="card-fingerprint-key", SecretString="00" * 15)["ARN"]
    monkeypatch.delenv("CARD_FINGERPRINT_KEY")
    monkeypatch.setenv("CARD_FINGERPRINT_SECRET_ARN", arn)
    transactions.transaction_creator.cache_clear()
    response = create(api_event(valid_body()))
    assert response["statusCode"] == 500 and body_of(response)["error"]["code"] == "internal_error"
    assert aws.transaction_items() == []
