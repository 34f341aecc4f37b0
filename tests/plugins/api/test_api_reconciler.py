"""The scheduled transaction reconciler: its function, schedule, least-privilege roles and alarms."""

from __future__ import annotations

import dataclasses
import json
import tempfile

import pytest
from api_support import API_KEY_SETTINGS, STUB_VALUES, STUBS, actions_of, ref

from payments_platform.core import RegistrationError, keys
from payments_platform.core.testing import StubProvider, synth
from payments_platform.plugins.api.function_access import IDEMPOTENCY_RECORD_KEY_PATTERN
from payments_platform.runtime.idempotency import RECORD_ID_PREFIX

TABLE = STUB_VALUES[keys.TRANSACTIONS_TABLE]
QUEUE = STUB_VALUES[keys.AUDIT_QUEUE]
TOPIC = STUB_VALUES[keys.NOTIFICATIONS_TOPIC]
NETWORK = STUB_VALUES[keys.NETWORK]
NAME = "transaction-reconciler-test"


def reconciler(stack):
    return stack.one("aws_lambda_function", function_name=NAME)


def test_reconciler_runs_the_reconciler_handler_in_the_private_subnets_with_tracing(api_key_stack):
    body = reconciler(api_key_stack)
    assert body["handler"] == "payments_runtime.reconciler.handler"
    assert body["tracing_config"] == {"mode": "Active"}
    assert body["vpc_config"]["subnet_ids"] == list(NETWORK.private_subnet_ids)
    assert body["logging_config"]["log_group"] == ref(
        api_key_stack, "aws_cloudwatch_log_group", "/transaction_reconciler_log_group", "name"
    )


def test_reconciler_runs_one_at_a_time_whatever_the_api_concurrency(api_key_stack):
    assert reconciler(api_key_stack)["reserved_concurrent_executions"] == 1


def test_reconciler_gets_the_index_but_never_the_fingerprint_key(api_key_stack):
    assert reconciler(api_key_stack)["environment"]["variables"] == {
        "TRANSACTIONS_TABLE_NAME": TABLE.name,
        "DISPATCH_INDEX_NAME": "dispatch-pending",
        "AUDIT_QUEUE_URL": QUEUE.url,
        "NOTIFICATIONS_TOPIC_ARN": TOPIC.arn,
        "LOG_LEVEL": "INFO",
        "ENVIRONMENT": "test",
    }


def test_schedule_invokes_the_reconciler_every_minute_through_its_own_role(api_key_stack):
    schedule = api_key_stack.one("aws_scheduler_schedule")
    assert schedule["name"] == NAME
    assert schedule["schedule_expression"] == "rate(1 minute)"
    assert schedule["flexible_time_window"] == {"mode": "OFF"}
    assert schedule["target"]["arn"] == ref(api_key_stack, "aws_lambda_function", "/transaction_reconciler", "arn")
    assert schedule["target"]["role_arn"] == ref(
        api_key_stack, "aws_iam_role", "/role_transaction-reconciler-schedule", "arn"
    )


def test_schedule_role_is_trusted_by_scheduler_and_may_only_invoke_the_reconciler(api_key_stack):
    role = api_key_stack.one("aws_iam_role", name="transaction-reconciler-schedule-role-test")
    trust = json.loads(role["assume_role_policy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    [statement] = api_key_stack.iam_statements("transaction-reconciler-schedule")
    assert statement["Action"] == ["lambda:InvokeFunction"]
    assert statement["Resource"] == ref(api_key_stack, "aws_lambda_function", "/transaction_reconciler", "arn")


def test_scheduler_may_assume_the_schedule_role_only_for_this_accounts_schedules(api_key_stack):
    role = api_key_stack.one("aws_iam_role", name="transaction-reconciler-schedule-role-test")
    condition = json.loads(role["assume_role_policy"])["Statement"][0]["Condition"]
    (account,) = condition["StringEquals"].values()
    assert list(condition["StringEquals"]) == ["aws:SourceAccount"] and account.startswith(
        "${data.aws_caller_identity."
    )
    (source_arn,) = condition["ArnEquals"].values()
    assert source_arn.endswith(f":scheduler:us-east-1:{account}:schedule-group/default")


def test_reconciler_updates_idempotency_records_only(api_key_stack):
    statements = {s["Sid"]: s for s in api_key_stack.iam_statements("transaction-reconciler")}
    assert statements["TransactionsTableReconcile"]["Action"] == ["dynamodb:UpdateItem"]
    assert statements["TransactionsTableReconcile"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["idem_*"]}
    }
    updates = [s for s in statements.values() if "dynamodb:UpdateItem" in s["Action"]]
    assert len(updates) == 1


def test_the_idempotency_key_pattern_is_the_runtimes_record_prefix():
    assert IDEMPOTENCY_RECORD_KEY_PATTERN == f"{RECORD_ID_PREFIX}*"


def test_reconciler_reads_through_the_index_and_never_scans(api_key_stack):
    statements = {s["Sid"]: s for s in api_key_stack.iam_statements("transaction-reconciler")}
    assert statements["TransactionsTableReconcileRead"]["Action"] == ["dynamodb:Query"]
    assert statements["TransactionsTableReconcileRead"]["Resource"] == TABLE.arn
    assert "Condition" not in statements["TransactionsTableReconcileRead"]
    assert statements["DispatchPendingIndexQuery"]["Action"] == ["dynamodb:Query"]
    assert statements["DispatchPendingIndexQuery"]["Resource"] == f"{TABLE.arn}/index/dispatch-pending"
    assert statements["AuditQueueSend"]["Resource"] == QUEUE.arn
    assert statements["NotificationsPublish"]["Resource"] == TOPIC.arn
    actions = actions_of(list(statements.values()))
    assert not {"dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem", "secretsmanager:GetSecretValue"} & actions


@pytest.fixture(scope="module")
def observed_stack():
    """The api plugin with observability, which creates what plugins register with ctx.monitoring."""
    return synth(["api", "observability"], extra_plugins={"stubs": STUBS}, settings={"api": API_KEY_SETTINGS})


def reconciler_alarms_of(stack):
    return {
        body["alarm_name"]: body
        for body in stack.resources("aws_cloudwatch_metric_alarm").values()
        if body.get("namespace") == "Payments/Reconciler"
    }


def test_stranded_and_quarantined_alarms_page_the_notifications_topic(observed_stack):
    alarms = reconciler_alarms_of(observed_stack)
    assert set(alarms) == {"transaction-reconciler-stranded-test", "transaction-reconciler-quarantined-test"}
    stranded = alarms["transaction-reconciler-stranded-test"]
    assert (stranded["metric_name"], stranded["statistic"], stranded["threshold"]) == (
        "OldestStrandedAgeSeconds",
        "Maximum",
        300,
    )
    assert stranded["treat_missing_data"] == "breaching"  # a silent reconciler is an alarm too
    for alarm in alarms.values():
        assert alarm["dimensions"] == {"Environment": "test"}
        assert alarm["alarm_actions"] == [TOPIC.arn]


def test_reconciler_alarms_are_registered_not_built_by_the_api_plugin(api_key_stack):
    # Without observability nothing renders registrations: no alarm, and no moved block (an
    # environment that had the alarms and disables observability sees them destroyed in its plan).
    assert reconciler_alarms_of(api_key_stack) == {}
    assert "moved" not in api_key_stack.config
    registered = {alarm.key: alarm for alarm in api_key_stack.built.build.monitoring.alarms.all()}
    assert set(registered) == {
        "transaction-reconciler-stranded",
        "transaction-reconciler-quarantined",
        "platform-record-unparseable",
    }
    assert {alarm.plugin for alarm in registered.values()} == {"api"}


def test_an_unparseable_record_pages_on_its_own_alarm(api_key_stack):
    registered = {alarm.key: alarm for alarm in api_key_stack.built.build.monitoring.alarms.all()}
    alarm = registered["platform-record-unparseable"]
    assert (alarm.metric.namespace, alarm.metric.name, alarm.threshold) == ("Payments/Records", "UnparseableRecords", 1)
    assert dict(alarm.metric.dimensions) == {"Environment": "test"} and alarm.evaluation_periods == 1
    assert "record.unparseable" in alarm.description and "transaction-processor" in alarm.description


def test_reconciler_alarms_move_from_where_the_api_plugin_built_them(observed_stack):
    """The moved blocks' sources are the addresses cdktf gave the alarms at api/alarm_<name>:
    Terraform keeps both alarms instead of destroying and re-creating them."""
    moved = {block["from"]: block["to"] for block in observed_stack.config["moved"]}
    for base_name in ("transaction_reconciler_stranded", "transaction_reconciler_quarantined"):
        old = former_address("api", f"alarm_{base_name}")
        _, new = observed_stack.by_path(f"observability/alarm_{base_name}")
        assert moved[old] == f"aws_cloudwatch_metric_alarm.{new['//']['metadata']['uniqueId']}"
    assert len(moved) == 2


def former_address(plugin: str, construct_id: str) -> str:
    """The address a metric alarm at <stack>/<plugin>/<construct_id> gets (what the api plugin built)."""
    from payments_platform.core.cdktf_adapter import Construct, TerraformStack, aws
    from payments_platform.core.host.synth import new_app

    with tempfile.TemporaryDirectory() as tmp:
        stack = TerraformStack(new_app(tmp), "payments-test")
        alarm = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
            Construct(stack, plugin), construct_id, alarm_name="x", comparison_operator="x", evaluation_periods=1
        )
        return f"aws_cloudwatch_metric_alarm.{stack.get_logical_id(alarm)}"


def test_a_table_without_the_dispatch_index_is_refused_naming_it():
    bare = dataclasses.replace(TABLE, indexes=())
    required = (keys.NETWORK, keys.TRANSACTIONS_TABLE, keys.AUDIT_QUEUE, keys.NOTIFICATIONS_TOPIC)
    stubs = StubProvider(
        "stubs", {key: bare if key is keys.TRANSACTIONS_TABLE else STUB_VALUES[key] for key in required}
    )
    with pytest.raises(Exception) as raised:
        synth(["api"], extra_plugins={"stubs": stubs}, cache=False)
    assert "dispatch_pending" in str(raised.value) and "payment-transactions-test" in str(raised.value)
    assert isinstance(raised.value, RegistrationError) or isinstance(raised.value.__cause__, RegistrationError)
