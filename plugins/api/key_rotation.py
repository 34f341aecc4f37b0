"""Automatic rotation of the card-fingerprint key (PCI DSS 3.6.1.3 / 3.7.4: a key changes at the
end of its cryptoperiod; checkov CKV2_AWS_57).

Secrets Manager runs ``card-fingerprint-rotator-{suffix}`` (runtime/fingerprint_rotation.py)
every ``fingerprint_key_rotation_days``: a new generated key becomes AWSCURRENT, the old one
AWSPREVIOUS, which the functions keep checking (runtime/fingerprint_keyring.py) so requests
first seen before the rotation still replay. ``rotate_immediately = true``: the secret is created
with no value (card_fingerprint_secret.py), and this first rotation, run as soon as the rotation
is configured, makes its first key -- inside AWS, where no plan, log or state sees it. Later
applies rotate only if the rotation's configuration changes (period, function): the provider
calls RotateSecret again then, a rotation the keyring absorbs like a scheduled one.

The rotator's role may touch this secret only: read, describe, write the pending version, move
its stages -- and draw a random key (GetRandomPassword has no resource). KMS only through
Secrets Manager. Secrets Manager may invoke the rotator for this secret only (source ARN)."""

from __future__ import annotations

from typing import Any

from payments_platform.core import PluginContext, aws, grant_key_via_service, keys

from .card_fingerprint_secret import CardFingerprintSecret

ROTATOR_SECRET_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)


def rotate_card_fingerprint_key(
    ctx: PluginContext, secret: CardFingerprintSecret, rotator: keys.Function, days: int
) -> Any:
    permission = aws.lambda_permission.LambdaPermission(
        ctx.scope,
        "card_fingerprint_rotator_invoke_permission",
        statement_id="AllowSecretsManagerRotation",
        action="lambda:InvokeFunction",
        function_name=rotator.name,
        principal="secretsmanager.amazonaws.com",
        source_arn=secret.arn,
    )
    rotation = aws.secretsmanager_secret_rotation.SecretsmanagerSecretRotation(
        ctx.scope,
        "card_fingerprint_key_rotation",
        secret_id=secret.secret.id,
        rotation_lambda_arn=rotator.arn,
        rotation_rules={"automatically_after_days": days},
        rotate_immediately=True,
        depends_on=[permission, rotator.role.policy],
    )
    ctx.compliance.evidence(
        "3.7.4",
        rotation,
        expect={"rotation_rules.automatically_after_days": days},
        attributes=("rotation_lambda_arn",),
        note=f"Secrets Manager replaces the card-fingerprint key every {days} days through {rotator.physical_name}; "
        "records made under the previous key still compare correctly",
    )
    ctx.compliance.evidence(
        "7.2",
        permission,
        attributes=("principal", "source_arn"),
        note=f"{rotator.physical_name} may be invoked by Secrets Manager for the card-fingerprint secret only",
    )
    return rotation


def grant_rotator_access(ctx: PluginContext, rotator: keys.Function, secret_arn: str) -> None:
    ctx.roles.grant(
        rotator, sid="CardFingerprintKeyRotate", actions=list(ROTATOR_SECRET_ACTIONS), resources=[secret_arn]
    )
    ctx.roles.grant(
        rotator,
        sid="RandomKey",
        actions=["secretsmanager:GetRandomPassword"],
        resources=["*"],
        any_resource_reason="secretsmanager:GetRandomPassword acts on no resource: AWS supports only '*'",
    )
    grant_key_via_service(
        ctx.roles,
        rotator,
        ctx[keys.KMS_KEY].arn,
        sid="CardFingerprintKeyEncrypt",
        actions=["kms:Decrypt", "kms:GenerateDataKey"],
        service="secretsmanager",
        region=ctx.aws.region,
    )
