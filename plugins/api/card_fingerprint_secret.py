"""The card-fingerprint HMAC key: a Secrets Manager secret whose every value -- the first one
included -- is generated inside AWS by the rotation function, never by Terraform.

The runtime derives its keyed fingerprints (card identity, request and idempotency-record ids)
from this secret, read through its ARN (``CARD_FINGERPRINT_SECRET_ARN``). Each value is 64
alphanumeric characters from GetRandomPassword, read as base64 (48 bytes, ~380 bits).

Why the rotation function makes the first value (issue #26; README.md, "Card-fingerprint key"):

* Terraform creates the secret with **no version**. ``aws_secretsmanager_secret_rotation`` with
  ``rotate_immediately = true`` (key_rotation.py) makes Secrets Manager run the rotation
  function right after the secret is created; its ``createSecret`` step draws the key from
  GetRandomPassword and stores it (runtime/fingerprint_rotation.py). No plan, log or state ever
  holds a key: the old data source ``aws_secretsmanager_random_password`` printed it
  (``Read complete [id=<key>]``) and kept it in the state, as did the version's
  ``secret_string``.
* A write-only argument (``secret_string_wo``, Terraform >= 1.11) is exposed by the pinned
  bindings, but needs an *ephemeral* source for its value, and cdktf 0.21 has no ephemeral
  resources; a data source or variable feeding it would put the key back in the log or state.
* One code path makes every key, the first and the rotated ones, and it is already tested.

Until the first rotation has finished (seconds after apply on AWS, where RotateSecret is
asynchronous) the secret has no AWSCURRENT version: the functions answer 503 with
Retry-After, never fingerprint with an absent or weak key (runtime/fingerprint_secret.py).

``recovery_window_in_days = 0`` deletes the secret immediately on destroy (the platform must be
destroyable, and a pending-deletion secret blocks re-creating the name for up to 30 days).
Fingerprints computed with a destroyed key cannot be recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments_platform.core import PluginContext, aws, forget_in_state, keys

# Deployments made before issue #26 have the data source and a version resource in their state.
# Destroying that version would take AWSPREVIOUS (or AWSPENDING) off a key the runtime still
# checks (the provider keeps only AWSCURRENT), so the state forgets it and the version stays in
# Secrets Manager (Terraform >= 1.7 `removed`; harmless where it never existed). The data source
# leaves the state by itself.
FORMER_FIRST_VERSION = "aws_secretsmanager_secret_version.api_card_fingerprint_key_version_B39ECA77"


@dataclass(frozen=True)
class CardFingerprintSecret:
    arn: str
    secret: Any


def create_card_fingerprint_secret(ctx: PluginContext) -> CardFingerprintSecret:
    kms = ctx[keys.KMS_KEY]
    secret = aws.secretsmanager_secret.SecretsmanagerSecret(
        ctx.scope,
        "card_fingerprint_key",
        name=ctx.naming.name("card-fingerprint-key"),
        description="HMAC key for keyed card fingerprints (never the PAN itself)",
        kms_key_id=kms.arn,
        recovery_window_in_days=0,
    )
    forget_in_state(ctx.scope, FORMER_FIRST_VERSION)
    return CardFingerprintSecret(arn=secret.arn, secret=secret)
