"""The card-fingerprint key's rotation function (``payments_runtime.fingerprint_rotation.handler``),
run by Secrets Manager on the secret's rotation schedule (PCI DSS 3.6.1.3 / 3.7.4: the key's
cryptoperiod ends, a new key takes over).

Secrets Manager calls it four times per rotation, with the new version's id as
``ClientRequestToken`` (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html):

* ``createSecret`` -- a new key from GetRandomPassword (64 alphanumeric characters), stored as
  the version's AWSPENDING value; a retry finds it there. The *first* key is made here too:
  Terraform creates the secret with no value and configures rotation with
  ``rotate_immediately = true`` (plugins/api/card_fingerprint_secret.py), so the first rotation
  meets a secret with no AWSCURRENT version -- no plan, log or state ever holds a key;
* ``setSecret`` -- nothing to do: the key is used by our functions only, which read it from
  Secrets Manager (fingerprint_keyring.py);
* ``testSecret`` -- the pending value must make a usable fingerprint key;
* ``finishSecret`` -- AWSCURRENT moves to the new version; Secrets Manager moves AWSPREVIOUS to
  the old one, which the keyring keeps checking, so requests first seen before the rotation
  still replay. On the first rotation there is no old version: AWSCURRENT is only attached.

Logs name the step and the version ids, never a key value."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import client, error_code
from .errors import ConfigurationError
from .logging_config import bind_request_context, configure_logging, get_logger
from .settings import FingerprintKeys, decode_secret, function_name

configure_logging()

KEY_LENGTH = 64  # as the api plugin's first key: alphanumeric, read as base64 (48 bytes)
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class RotationError(Exception):
    """The rotation cannot go on; Secrets Manager records the failed step and retries later."""


def handler(event: dict[str, Any], context: Any) -> None:
    secret_id, token, step = event.get("SecretId"), event.get("ClientRequestToken"), event.get("Step")
    bind_request_context(
        request_id=getattr(context, "aws_request_id", None) or "rotation",
        function=getattr(context, "function_name", None) or function_name(),
        operation="rotate_fingerprint_key",
    )
    log = get_logger()
    if step not in STEPS or not secret_id or not token:
        log.error("rotation.invalid_event", step=str(step)[:32])
        raise RotationError(f"not a Secrets Manager rotation event (step {str(step)[:32]!r})")
    try:
        FingerprintKeyRotation(client("secretsmanager"), secret_id, token).run(step)
    except (ClientError, BotoCoreError) as error:
        log.error(
            "rotation.step_failed",
            step=step,
            version_id=token,
            aws_error_code=error_code(error),
            error_class=type(error).__name__,
        )
        raise
    except RotationError as error:
        log.error("rotation.step_failed", step=step, version_id=token, reason=str(error))
        raise


class FingerprintKeyRotation:
    def __init__(self, secrets: Any, secret_id: str, token: str) -> None:
        self._secrets = secrets
        self._secret_id = secret_id
        self._token = token

    def run(self, step: str) -> None:
        stages = self._stages()
        if "AWSCURRENT" in stages:
            get_logger().info("rotation.already_current", step=step, version_id=self._token)
            return
        if "AWSPENDING" not in stages:
            raise RotationError(f"version {self._token} is not pending rotation")
        getattr(
            self, {"createSecret": "create", "setSecret": "set", "testSecret": "test", "finishSecret": "finish"}[step]
        )()
        get_logger().info("rotation.step_done", step=step, version_id=self._token)

    def _stages(self) -> list[str]:
        description = self._secrets.describe_secret(SecretId=self._secret_id)
        if not description.get("RotationEnabled"):
            raise RotationError("rotation is not enabled on the secret")
        versions = description.get("VersionIdsToStages") or {}
        if self._token not in versions:
            raise RotationError(f"the secret has no version {self._token}")
        return list(versions[self._token])

    def create(self) -> None:
        try:  # the current key exists and is readable -- unless this rotation makes the first one
            self._secrets.get_secret_value(SecretId=self._secret_id, VersionStage="AWSCURRENT")
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException" or self._has_current():
                raise
            get_logger().info("rotation.first_key", version_id=self._token)
        try:
            self._secrets.get_secret_value(SecretId=self._secret_id, VersionId=self._token, VersionStage="AWSPENDING")
            return  # a retried step: the new key is already there
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
        new_key = self._secrets.get_random_password(PasswordLength=KEY_LENGTH, ExcludePunctuation=True)[
            "RandomPassword"
        ]
        self._secrets.put_secret_value(
            SecretId=self._secret_id, ClientRequestToken=self._token, SecretString=new_key, VersionStages=["AWSPENDING"]
        )

    def _has_current(self) -> bool:
        versions = self._secrets.describe_secret(SecretId=self._secret_id).get("VersionIdsToStages") or {}
        return any("AWSCURRENT" in stages for stages in versions.values())

    def set(self) -> None:
        """Nothing outside Secrets Manager holds the key."""

    def test(self) -> None:
        pending = self._secrets.get_secret_value(
            SecretId=self._secret_id, VersionId=self._token, VersionStage="AWSPENDING"
        )
        try:
            FingerprintKeys.from_secret(decode_secret(pending.get("SecretString") or ""))
        except ConfigurationError:
            # The reason names the rule (encoding, length), never the value.
            raise RotationError("the pending version is not a usable fingerprint key") from None

    def finish(self) -> None:
        versions = self._secrets.describe_secret(SecretId=self._secret_id).get("VersionIdsToStages") or {}
        current = next((version for version, stages in versions.items() if "AWSCURRENT" in stages), None)
        self._secrets.update_secret_version_stage(
            SecretId=self._secret_id,
            VersionStage="AWSCURRENT",
            MoveToVersionId=self._token,
            **({"RemoveFromVersionId": current} if current else {}),
        )
