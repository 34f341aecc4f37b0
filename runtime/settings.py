"""Environment the api plugin sets on the functions, read at first use with clear errors.

AWS endpoints are not read here: botocore itself honours AWS_ENDPOINT_URL and the
service-specific AWS_ENDPOINT_URL_DYNAMODB / _SQS / _SNS, which is how the same code runs
against a local emulator.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from .errors import ConfigurationError

MIN_FINGERPRINT_KEY_BYTES = 16
_HEX = re.compile(r"\A(?:[0-9a-fA-F]{2})+\Z")


def required_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def transactions_table_name() -> str:
    return required_env("TRANSACTIONS_TABLE_NAME")


def audit_queue_url() -> str:
    return required_env("AUDIT_QUEUE_URL")


def notifications_topic_arn() -> str:
    return required_env("NOTIFICATIONS_TOPIC_ARN")


def archive_bucket_name() -> str:
    return required_env("ARCHIVE_BUCKET_NAME")


def archive_kms_key_arn() -> str:
    return required_env("ARCHIVE_KMS_KEY_ARN")


def dispatch_index_name() -> str:
    """The transactions table's sparse index of incomplete dispatches (the reconciler reads it)."""
    return required_env("DISPATCH_INDEX_NAME")


def environment_name() -> str:
    return os.environ.get("ENVIRONMENT", "unknown")


def function_name() -> str:
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")


@dataclass(frozen=True)
class FingerprintKeys:
    """Purpose-separated HMAC keys derived from CARD_FINGERPRINT_KEY, so a value computed for one
    purpose (say, the idempotency record id) can never be confused with another (a card identity)."""

    card: bytes
    request: bytes
    idempotency: bytes
    version: str = ""  # names the secret they came from (fingerprint_keyring.py), not the secret

    @classmethod
    def from_secret(cls, secret: bytes) -> FingerprintKeys:
        def derive(purpose: str) -> bytes:
            return hmac.new(secret, b"payments-runtime/v1/" + purpose.encode(), hashlib.sha256).digest()

        return cls(
            card=derive("card-fingerprint"),
            request=derive("request-fingerprint"),
            idempotency=derive("idempotency-record"),
            version="k" + derive("key-version").hex()[:10],
        )


def decode_secret(raw: str) -> bytes:
    """CARD_FINGERPRINT_KEY as hex or base64 (standard or URL-safe), at least 128 bits."""
    raw = raw.strip()
    if _HEX.match(raw):
        secret = bytes.fromhex(raw)
    else:
        try:
            padded = raw + "=" * (-len(raw) % 4)
            secret = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError("CARD_FINGERPRINT_KEY is neither hex nor base64") from None
    if len(secret) < MIN_FINGERPRINT_KEY_BYTES:
        raise ConfigurationError(f"CARD_FINGERPRINT_KEY must decode to at least {MIN_FINGERPRINT_KEY_BYTES} bytes")
    return secret


def fingerprint_key_env() -> str | None:
    """CARD_FINGERPRINT_KEY: the secret itself (tests, local emulators); several, newest first,
    separated by commas."""
    return os.environ.get("CARD_FINGERPRINT_KEY", "").strip() or None


def fingerprint_secret_arn() -> str | None:
    """CARD_FINGERPRINT_SECRET_ARN: where the api plugin keeps the secret (Secrets Manager)."""
    return os.environ.get("CARD_FINGERPRINT_SECRET_ARN", "").strip() or None


# The processor's wait for a connector's answer when its setting is absent (api plugin setting
# authorization_budget_ms; the plugin checks it against the function's timeout).
DEFAULT_AUTHORIZATION_BUDGET_MS = 3000


def connector_function_name() -> str | None:
    """CONNECTOR_FUNCTION_NAME: the payment connector's function (plugin API 1.2); unset in an
    intake-only environment, where transactions stay ``received``."""
    return os.environ.get("CONNECTOR_FUNCTION_NAME", "").strip() or None


def authorization_budget_ms() -> int:
    """AUTHORIZATION_BUDGET_MS: the longest the processor waits for a connector's answer."""
    raw = os.environ.get("AUTHORIZATION_BUDGET_MS", "").strip()
    if not raw:
        return DEFAULT_AUTHORIZATION_BUDGET_MS
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError("AUTHORIZATION_BUDGET_MS must be a positive whole number of milliseconds")
    return int(raw)
