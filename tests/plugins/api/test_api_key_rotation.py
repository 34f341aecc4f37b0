"""Automatic rotation of the card-fingerprint key: the rotation function, its least-privilege role,
the secret's rotation schedule and the permission that lets Secrets Manager (for this secret only)
invoke it."""

from __future__ import annotations

from api_support import STUB_VALUES, actions_of, ref, synth_api

from payments_platform.core import keys

NETWORK = STUB_VALUES[keys.NETWORK]
NAME = "card-fingerprint-rotator-test"


def secret_arn(stack) -> str:
    return ref(stack, "aws_secretsmanager_secret", "/card_fingerprint_key", "arn")


def rotator_arn(stack) -> str:
    return ref(stack, "aws_lambda_function", "/card_fingerprint_rotator", "arn")


def test_rotator_runs_the_rotation_handler_in_the_private_subnets_with_tracing_and_its_own_log_group(api_key_stack):
    body = api_key_stack.one("aws_lambda_function", function_name=NAME)
    assert body["handler"] == "payments_runtime.fingerprint_rotation.handler"
    assert body["tracing_config"] == {"mode": "Active"}
    assert body["vpc_config"]["subnet_ids"] == list(NETWORK.private_subnet_ids)
    assert body["logging_config"]["log_group"] == ref(
        api_key_stack, "aws_cloudwatch_log_group", "/card_fingerprint_rotator_log_group", "name"
    )
    assert body["reserved_concurrent_executions"] == 1
    assert body["environment"]["variables"] == {"LOG_LEVEL": "INFO", "ENVIRONMENT": "test"}


def test_the_secret_rotates_every_90_days_by_default_and_its_first_rotation_makes_the_first_key(api_key_stack):
    rotation = api_key_stack.one("aws_secretsmanager_secret_rotation")
    assert rotation["secret_id"] == ref(api_key_stack, "aws_secretsmanager_secret", "/card_fingerprint_key", "id")
    assert rotation["rotation_lambda_arn"] == rotator_arn(api_key_stack)
    assert rotation["rotation_rules"] == {"automatically_after_days": 90}
    assert rotation["rotate_immediately"] is True
    # Secrets Manager invokes the rotator at once: it must exist and may already act.
    (permission_id,) = (
        logical_id
        for logical_id, body in api_key_stack.resources("aws_lambda_permission").items()
        if body["statement_id"] == "AllowSecretsManagerRotation"
    )
    assert f"aws_lambda_permission.{permission_id}" in rotation["depends_on"]


def test_the_rotation_period_comes_from_the_api_settings():
    stack = synth_api({"fingerprint_key_rotation_days": 30})
    assert stack.one("aws_secretsmanager_secret_rotation")["rotation_rules"] == {"automatically_after_days": 30}


def test_only_secrets_manager_may_invoke_the_rotator_and_only_for_this_secret(api_key_stack):
    permission = api_key_stack.one("aws_lambda_permission", statement_id="AllowSecretsManagerRotation")
    assert permission["principal"] == "secretsmanager.amazonaws.com"
    assert permission["source_arn"] == secret_arn(api_key_stack)
    assert permission["function_name"] == ref(
        api_key_stack, "aws_lambda_function", "/card_fingerprint_rotator", "function_name"
    )


def test_rotator_may_touch_only_this_secret_and_use_the_key_only_through_secrets_manager(api_key_stack):
    statements = {s["Sid"]: s for s in api_key_stack.iam_statements("card-fingerprint-rotator")}
    assert statements["CardFingerprintKeyRotate"]["Action"] == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
    ]
    assert statements["CardFingerprintKeyRotate"]["Resource"] == secret_arn(api_key_stack)
    assert statements["RandomKey"]["Action"] == ["secretsmanager:GetRandomPassword"]
    assert statements["CardFingerprintKeyEncrypt"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statements["CardFingerprintKeyEncrypt"]["Condition"]["StringEquals"]["kms:ViaService"].startswith(
        "secretsmanager."
    )
    actions = actions_of(list(statements.values()))
    assert not {a for a in actions if a.startswith(("dynamodb:", "sqs:", "sns:"))}
    assert not {"secretsmanager:DeleteSecret", "secretsmanager:RotateSecret", "secretsmanager:CreateSecret"} & actions
