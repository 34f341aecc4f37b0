"""Where the HMAC secret behind every keyed fingerprint comes from, read once per container.

Production: Secrets Manager, through CARD_FINGERPRINT_SECRET_ARN (KMS-encrypted, access-logged,
rotatable) -- the AWSCURRENT and AWSPREVIOUS versions, read on a container's first request and
again every few minutes (fingerprint_keyring.py).
Tests and local emulators: CARD_FINGERPRINT_KEY holds the secret itself and wins if both are set.
The secret string is hex or base64 (the plugin's 64 alphanumeric characters read as base64).

Fail closed before the first key: the secret is created with no value and its first rotation
makes the first key (plugins/api/card_fingerprint_secret.py, seconds after deployment). Until
then AWSCURRENT does not exist and every request that needs a fingerprint is a retryable 503 --
never a request served with an absent, default or weak key (a key under 16 bytes is refused).
The next request reads the secret again (KeyringSource keeps no failed load).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import client, error_code, is_retryable
from .errors import ConfigurationError, ServiceUnavailableError
from .fingerprint_keyring import FingerprintKeyring, KeyVersion
from .logging_config import get_logger
from .settings import FingerprintKeys, decode_secret, fingerprint_key_env, fingerprint_secret_arn

FIRST_KEY_RETRY_AFTER_SECONDS = 5  # the first rotation takes a few Lambda invocations


def load_fingerprint_keyring() -> FingerprintKeyring:
    """The current key version and the previous one (when the secret has been rotated)."""
    raw = fingerprint_key_env()
    if raw is not None:
        return FingerprintKeyring(
            tuple(KeyVersion(FingerprintKeys.from_secret(decode_secret(part))) for part in raw.split(","))
        )
    arn = fingerprint_secret_arn()
    if arn is None:
        raise ConfigurationError("neither CARD_FINGERPRINT_KEY nor CARD_FINGERPRINT_SECRET_ARN is set")
    versions = [_read_version(arn, "AWSCURRENT")]
    previous = _read_version(arn, "AWSPREVIOUS", missing_ok=True)
    if previous is not None:
        versions.append(previous)
    return FingerprintKeyring(tuple(v for v in versions if v is not None))


def _read_version(arn: str, stage: str, *, missing_ok: bool = False) -> KeyVersion | None:
    try:
        response = client("secretsmanager").get_secret_value(SecretId=arn, VersionStage=stage)
    except (ClientError, BotoCoreError) as error:
        if error_code(error) == "ResourceNotFoundException":
            if missing_ok:
                return None  # never rotated: no previous version
            get_logger().error("fingerprint_key.no_current_version", stage=stage)
            raise ServiceUnavailableError(
                "service_unavailable",
                "The service is not ready yet; retry later.",
                retry_after=FIRST_KEY_RETRY_AFTER_SECONDS,
            ) from None
        if is_retryable(error):
            raise ServiceUnavailableError(
                "service_unavailable", "A dependency is temporarily unavailable; retry later.", retry_after=1
            ) from None
        raise ConfigurationError(
            f"cannot read CARD_FINGERPRINT_SECRET_ARN ({error_code(error) or type(error).__name__})"
        ) from None
    secret = response.get("SecretString")
    if not secret:
        raise ConfigurationError(f"the card fingerprint secret's {stage} version has no SecretString")
    created = response.get("CreatedDate")
    return KeyVersion(FingerprintKeys.from_secret(decode_secret(secret)), created.timestamp() if created else None)
