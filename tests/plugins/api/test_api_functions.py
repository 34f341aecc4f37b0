"""The Lambda functions, their roles (least privilege), invoke permissions and the HMAC-key secret."""

from __future__ import annotations

import json

import pytest
from api_support import STUB_VALUES, actions_of, all_policy_statements, logical_id, ref

from payments_platform.core import keys
from payments_platform.core.testing import assert_resource

NETWORK = STUB_VALUES[keys.NETWORK]
TABLE = STUB_VALUES[keys.TRANSACTIONS_TABLE]
QUEUE = STUB_VALUES[keys.AUDIT_QUEUE]
TOPIC = STUB_VALUES[keys.NOTIFICATIONS_TOPIC]

FUNCTIONS = {
    "transaction-processor-test": "payments_runtime.transactions.handler",
    "status-checker-test": "payments_runtime.status.handler",
}


def function(stack, name):
    return stack.one("aws_lambda_function", function_name=name)


@pytest.mark.parametrize("name,handler", FUNCTIONS.items())
def test_function_runtime_handler_and_tracing(api_key_stack, name, handler):
    assert_resource(
        api_key_stack,
        "aws_lambda_function",
        {
            "function_name": name,
            "handler": handler,
            "runtime": "python3.12",
            "architectures": ["arm64"],
            "tracing_config": {"mode": "Active"},
            "timeout": 10,
        },
    )


def test_memory_and_reserved_concurrency_come_from_settings(api_key_stack, iam_stack):
    for name in FUNCTIONS:
        assert (
            function(api_key_stack, name)["memory_size"],
            function(api_key_stack, name)["reserved_concurrent_executions"],
        ) == (512, 7)
        assert (
            function(iam_stack, name)["memory_size"],
            function(iam_stack, name)["reserved_concurrent_executions"],
        ) == (1024, 3)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_run_in_the_private_subnets_with_the_lambda_security_group(api_key_stack, name):
    assert function(api_key_stack, name)["vpc_config"] == {
        "subnet_ids": list(NETWORK.private_subnet_ids),
        "security_group_ids": [NETWORK.lambda_security_group_id],
    }


def test_transaction_processor_environment_is_encrypted_with_the_cmk(api_key_stack):
    body = function(api_key_stack, "transaction-processor-test")
    assert body["environment"]["variables"] == {
        "TRANSACTIONS_TABLE_NAME": TABLE.name,
        "AUDIT_QUEUE_URL": QUEUE.url,
        "NOTIFICATIONS_TOPIC_ARN": TOPIC.arn,
        "CARD_FINGERPRINT_SECRET_ARN": ref(api_key_stack, "aws_secretsmanager_secret", "/card_fingerprint_key", "arn"),
        "LOG_LEVEL": "INFO",
        "ENVIRONMENT": "test",
    }
    assert body["kms_key_arn"].startswith("${aws_kms_key.platform_platform_key")


def test_status_checker_environment_holds_only_what_it_reads(api_key_stack):
    body = function(api_key_stack, "status-checker-test")
    assert body["environment"]["variables"] == {
        "TRANSACTIONS_TABLE_NAME": TABLE.name,
        "LOG_LEVEL": "INFO",
        "ENVIRONMENT": "test",
    }
    assert body["kms_key_arn"].startswith("${aws_kms_key.platform_platform_key")


@pytest.mark.parametrize(
    "name,construct",
    [("transaction-processor-test", "transaction_processor"), ("status-checker-test", "status_checker")],
)
def test_each_function_depends_on_its_encrypted_log_group(api_key_stack, name, construct):
    group_id = logical_id(api_key_stack, "aws_cloudwatch_log_group", f"/{construct}_log_group")
    group = api_key_stack.resources("aws_cloudwatch_log_group")[group_id]
    assert group["name"] == f"/aws/lambda/{name}"
    assert group["retention_in_days"] == 30 and group["kms_key_id"].startswith("${aws_kms_key.")
    assert f"aws_cloudwatch_log_group.{group_id}" in function(api_key_stack, name)["depends_on"]


@pytest.mark.parametrize(
    "name,role_key",
    [("transaction-processor-test", "transaction-processor"), ("status-checker-test", "status-checker")],
)
def test_each_function_waits_for_its_role_policy(api_key_stack, name, role_key):
    policy_id = logical_id(api_key_stack, "aws_iam_role_policy", f"/role_{role_key}_policy")
    assert f"aws_iam_role_policy.{policy_id}" in function(api_key_stack, name)["depends_on"]
    assert function(api_key_stack, name)["role"] == ref(api_key_stack, "aws_iam_role", f"/role_{role_key}", "arn")


# --- least privilege --------------------------------------------------------------------


def test_no_statement_anywhere_has_a_wildcard_action(api_key_stack, iam_stack):
    for stack in (api_key_stack, iam_stack):
        assert not [a for a in actions_of(all_policy_statements(stack)) if "*" in a]


def test_status_checker_only_reads_the_table(api_key_stack):
    statements = api_key_stack.iam_statements("status-checker")
    actions = actions_of(statements)
    assert {a for a in actions if a.startswith("dynamodb:")} == {"dynamodb:Query"}
    assert not {a for a in actions if a.split(":")[0] in ("sqs", "sns", "secretsmanager")}
    assert "kms:GenerateDataKey" not in actions


def test_transaction_processor_gets_exactly_the_calls_its_handler_makes(api_key_stack):
    statements = {s["Sid"]: s for s in api_key_stack.iam_statements("transaction-processor")}
    assert statements["TransactionsTableWrite"]["Action"] == [
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ]
    assert statements["TransactionsTableWrite"]["Resource"] == TABLE.arn
    assert statements["AuditQueueSend"] == {
        "Sid": "AuditQueueSend",
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": QUEUE.arn,
    }
    assert statements["NotificationsPublish"]["Action"] == ["sns:Publish"]
    assert statements["NotificationsPublish"]["Resource"] == TOPIC.arn
    secret_arn = ref(api_key_stack, "aws_secretsmanager_secret", "/card_fingerprint_key", "arn")
    assert statements["CardFingerprintKeyRead"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert statements["CardFingerprintKeyRead"]["Resource"] == secret_arn
    assert statements["CardFingerprintKeyDecrypt"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
    }
    assert "dynamodb:DeleteItem" not in actions_of(list(statements.values()))


@pytest.mark.parametrize(
    "role_key,construct", [("transaction-processor", "transaction_processor"), ("status-checker", "status_checker")]
)
def test_functions_write_only_their_own_log_group(api_key_stack, role_key, construct):
    statements = {s["Sid"]: s for s in api_key_stack.iam_statements(role_key)}
    group_arn = ref(api_key_stack, "aws_cloudwatch_log_group", f"/{construct}_log_group", "arn")
    assert statements["WriteOwnLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statements["WriteOwnLogs"]["Resource"] == [group_arn, f"{group_arn}:*"]


@pytest.mark.parametrize("role_key", ["transaction-processor", "status-checker"])
def test_any_resource_grants_are_only_xray_and_vpc_enis_with_reasons(api_key_stack, role_key):
    wildcard = {s["Sid"]: set(s["Action"]) for s in api_key_stack.iam_statements(role_key) if s["Resource"] == "*"}
    assert wildcard == {
        "XRayTracing": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
        "VpcNetworkInterfaces": {
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        },
    }
    reasons = {
        s.sid: s.any_resource_reason
        for k, s in api_key_stack.built.build.roles.wildcard_resource_grants()
        if k == role_key
    }
    assert set(reasons) == set(wildcard) and all(len(r) > 20 for r in reasons.values())


# --- invoke permissions -------------------------------------------------------------------


@pytest.mark.parametrize(
    "construct,route", [("transaction_processor", "POST/transactions"), ("status_checker", "GET/status")]
)
def test_lambda_permission_is_scoped_to_this_api_stage_method_and_path(api_key_stack, construct, route):
    execution_arn = ref(api_key_stack, "aws_api_gateway_rest_api", "/rest_api", "execution_arn")
    body = api_key_stack.by_path(f"/{construct}_invoke_permission")[1]
    assert body["principal"] == "apigateway.amazonaws.com"
    assert body["action"] == "lambda:InvokeFunction"
    assert body["source_arn"] == f"{execution_arn}/prod/{route}"
    assert body["function_name"] == ref(api_key_stack, "aws_lambda_function", f"/{construct}", "function_name")


# --- card-fingerprint key -----------------------------------------------------------------


def test_card_fingerprint_secret_is_encrypted_and_destroyable(api_key_stack):
    assert_resource(
        api_key_stack,
        "aws_secretsmanager_secret",
        {"name": "card-fingerprint-key-test", "recovery_window_in_days": 0},
    )
    assert api_key_stack.one("aws_secretsmanager_secret")["kms_key_id"].startswith("${aws_kms_key.")


def test_no_card_fingerprint_key_value_passes_through_terraform(api_key_stack):
    """Issue #26: the first key comes from the secret's first rotation (inside AWS), so no plan,
    log or state holds it -- no random-password data source, no version, no secret_string."""
    assert api_key_stack.data_sources("aws_secretsmanager_random_password") == {}
    assert "aws_secretsmanager_secret_version" not in api_key_stack.config.get("resource", {})
    text = json.dumps(api_key_stack.config)
    for needle in ("random_password", "secret_string", "secret_binary"):
        assert needle not in text
    rotation = api_key_stack.one("aws_secretsmanager_secret_rotation")
    assert rotation["rotate_immediately"] is True  # the first rotation makes the first key


def test_the_former_first_version_leaves_the_state_without_being_destroyed(api_key_stack):
    """Upgrading a deployment made before issue #26: destroying the version Terraform created would
    strip AWSPREVIOUS from a key the runtime still checks; `removed` only forgets it."""
    assert {
        "from": "aws_secretsmanager_secret_version.api_card_fingerprint_key_version_B39ECA77",
        "lifecycle": {"destroy": False},
    } in api_key_stack.config["removed"]


def test_synthesized_config_is_json_serialisable_without_local_paths(api_key_stack):
    text = json.dumps(api_key_stack.config)
    assert "/tmp/" not in text and "payments-platform-build" not in text
