"""The connector contract at synth (plugin API 1.2): the api plugin wires an enabled connector
(invoke grant, its name in the processor's and reconciler's environment, Lambda's endpoint), an
environment without one is intake only and says so once, two connectors are one error naming both;
the simulator's own resources meet the seed's limits."""

from __future__ import annotations

import json

import pytest

from payments_platform.core import PluginDeclaration, hookimpl, keys, platform_function
from payments_platform.core.errors import ConfigError, RequirementError
from payments_platform.core.testing import synth

PLATFORM = ["api", "audit", "messaging", "network", "observability", "storage"]
WITH_CONNECTOR = [*PLATFORM, "acquirer-simulator"]


class SecondConnector:
    """A third-party connector distribution, enabled beside the simulator."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="other-acquirer",
            description="another connector",
            requires=(keys.NETWORK, keys.RUNTIME_PACKAGE),
            provides=(keys.PAYMENT_CONNECTOR,),
        )

    @hookimpl
    def payments_resources(self, ctx) -> None:
        fn = platform_function(
            ctx,
            "connector",
            key="other-acquirer",
            description="d",
            role_description="r",
            package=ctx[keys.RUNTIME_PACKAGE],
            handler="x.handler",
            environment={},
            reserved_concurrency=1,
            log_retention_days=30,
        )
        ctx[keys.PAYMENT_CONNECTOR] = keys.Connector(function=fn, display_name="Other")


def _function(stack, name: str) -> dict:
    return stack.one("aws_lambda_function", function_name=name)


def test_two_connectors_are_one_error_naming_both_plugins():
    with pytest.raises(RequirementError) as error:
        synth(WITH_CONNECTOR, extra_plugins={"other-acquirer": SecondConnector()}, cache=False)
    message = str(error.value)
    assert "'acquirer-simulator'" in message and "'other-acquirer'" in message
    assert "'payments.connector'" in message


def test_without_a_connector_the_environment_is_intake_only_and_says_so_once():
    stack = synth(PLATFORM)
    notes = [text for plugin, text in stack.built.build.notes if plugin == "api"]
    assert notes == ["intake only: no payment connector is enabled; transactions stay 'received'"]
    variables = _function(stack, "transaction-processor-test")["environment"]["variables"]
    assert "CONNECTOR_FUNCTION_NAME" not in variables and "AUTHORIZATION_BUDGET_MS" not in variables
    assert not any(s["Sid"] == "PaymentConnectorInvoke" for s in stack.iam_statements("transaction-processor"))


def test_the_processor_and_reconciler_may_only_invoke_the_connector_and_know_its_name():
    stack = synth(WITH_CONNECTOR)
    connector = _function(stack, "acquirer-simulator-test")
    for key in ("transaction-processor", "transaction-reconciler"):
        variables = _function(stack, f"{key}-test")["environment"]["variables"]
        assert (
            variables["CONNECTOR_FUNCTION_NAME"]
            == "${aws_lambda_function.acquirer-simulator_connector_5CB4318E.function_name}"
        )
        assert variables["AUTHORIZATION_BUDGET_MS"] == "3000"
        (invoke,) = [s for s in stack.iam_statements(key) if s["Sid"] == "PaymentConnectorInvoke"]
        assert invoke["Action"] in ("lambda:InvokeFunction", ["lambda:InvokeFunction"])
        assert "acquirer-simulator_connector" in json.dumps(invoke["Resource"])
    assert connector["role"] != _function(stack, "transaction-processor-test")["role"]
    # The connector's own role reaches its ledger and nothing of the platform's.
    sids = {s["Sid"] for s in stack.iam_statements("acquirer-simulator")}
    assert sids == {
        "AuthorizationLedgerWrite",
        "AuthorizationLedgerWriteKms",
        "VpcNetworkInterfaces",
        "WriteOwnLogs",
        "XRayTracing",
    }
    ledger = [s for s in stack.iam_statements("acquirer-simulator") if s["Sid"] == "AuthorizationLedgerWrite"][0]
    assert sorted(ledger["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem"]


def test_the_reconciler_may_write_outcomes_on_transaction_items_only_where_a_connector_is():
    def outcome_statements(stack):
        return [s for s in stack.iam_statements("transaction-reconciler") if s["Sid"] == "TransactionsTableOutcome"]

    assert outcome_statements(synth(PLATFORM)) == []
    (statement,) = outcome_statements(synth(WITH_CONNECTOR))
    assert statement["Action"] in ("dynamodb:UpdateItem", ["dynamodb:UpdateItem"])
    assert json.dumps(statement["Condition"]).count("txn_*") == 1


def test_the_connector_function_meets_the_seed_limits():
    stack = synth(WITH_CONNECTOR)
    connector = _function(stack, "acquirer-simulator-test")
    assert connector["memory_size"] >= 512
    assert connector["reserved_concurrent_executions"] >= 1
    assert connector["tracing_config"] == {"mode": "Active"}
    assert connector["vpc_config"]["subnet_ids"]
    assert connector["kms_key_arn"]
    log_group = stack.one("aws_cloudwatch_log_group", name="/aws/lambda/acquirer-simulator-test")
    assert log_group["retention_in_days"] == 30 and log_group["kms_key_id"]


def test_the_ledger_is_its_own_on_demand_cmk_table_with_point_in_time_recovery():
    stack = synth(WITH_CONNECTOR)
    ledger = stack.one("aws_dynamodb_table", name="acquirer-ledger-test")
    assert ledger["billing_mode"] == "PAY_PER_REQUEST"
    assert ledger["hash_key"] == "idempotency_key"
    assert ledger["point_in_time_recovery"] == {"enabled": True}
    assert ledger["server_side_encryption"]["enabled"] is True
    assert ledger["server_side_encryption"]["kms_key_arn"].startswith("${aws_kms_key.")


def test_a_slow_answer_the_function_would_cut_off_is_refused_naming_the_settings():
    with pytest.raises(ConfigError, match="slow_answer_ms.*timeout_seconds"):
        synth(WITH_CONNECTOR, settings={"acquirer-simulator": {"slow_answer_ms": 10_000}}, cache=False)


def test_a_budget_leaving_too_little_of_the_processor_timeout_is_refused():
    with pytest.raises(ConfigError, match="authorization_budget_ms"):
        synth(WITH_CONNECTOR, settings={"api": {"authorization_budget_ms": 7_000, "clients": ["c"]}}, cache=False)
