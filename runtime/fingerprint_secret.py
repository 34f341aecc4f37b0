"""Where the HMAC secret behind every keyed fingerprint comes from, read once per container.

Production: Secrets Manager, through CARD_FINGERPRINT_SECRET_ARN (KMS-encrypted, access-logged,
rotatable) -- one GetSecretValue on the first request of a container, never on later ones.
Tests and local emulators: CARD_FINGERPRINT_KEY holds the secret itself and wins if both are set.
The secret string is hex or base64 (the plugin's 64 alphanumeric characters read as base64).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import client, error_code, is_retryable
from .errors import ConfigurationError, ServiceUnavailableError
from .settings import FingerprintKeys, decode_secret, fingerprint_key_env, fingerprint_secret_arn


def load_fingerprint_keys() -> FingerprintKeys:
    raw = fingerprint_key_env()
    if raw is None:
        arn = fingerprint_secret_arn()
        if arn is None:
            raise ConfigurationError("neither CARD_FINGERPRINT_KEY nor CARD_FINGERPRINT_SECRET_ARN is set")
        raw = _read_secret(arn)
    return FingerprintKeys.from_secret(decode_secret(raw))


def _read_secret(arn: str) -> str:
    try:
        response = client("secretsmanager").get_secret_value(SecretId=arn)
    except (ClientError, BotoCoreError) as error:
        if is_retryable(error):
            raise ServiceUnavailableError(
                "service_unavailable", "A dependency is temporarily unavailable; retry later.", retry_after=1
            ) from None
        raise ConfigurationError(f"cannot read CARD_FINGERPRINT_SECRET_ARN ({error_code(error) or type(error).__name__})") from None
    secret = response.get("SecretString")
    if not secret:
        raise ConfigurationError("the card fingerprint secret has no SecretString")
    return secret
