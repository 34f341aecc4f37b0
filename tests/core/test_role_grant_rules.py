"""Who may add statements to whose role (core/roles.py): a plugin grants its own roles freely,
another plugin's role only as received in a key it declared, and a published resource only
through its value's grants. Breaches are refused for plugins written for API 1.1 and deprecated
(a warning naming the key or grant to use) for plugins that still accept 1.0."""

from __future__ import annotations

import warnings

import pytest

from payments_platform.core import PluginDeclaration, PluginDeprecationWarning, RegistrationError, hookimpl, keys
from payments_platform.core.context import AwsAccount, BuildContext, PluginContext
from payments_platform.core.declaration import NoSettings
from payments_platform.core.naming import Naming
from payments_platform.core.roles import RoleRegistry
from payments_platform.core.testing import make_environment, stub_values, synth

STUBS = stub_values()
TABLE = STUBS[keys.TRANSACTIONS_TABLE]
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:fraud-screen-test"
FRAUD_QUEUE = keys.Queue(
    name="fraud-screen-test",
    arn=QUEUE_ARN,
    url="https://sqs.us-east-1.amazonaws.com/123456789012/fraud-screen-test",
    kms_key_arn=TABLE.kms_key_arn,
    region="us-east-1",
)


class Construct:
    arn = "arn:aws:iam::123456789012:role/r"


def build_with_processor() -> BuildContext:
    """A build in which plugin 'api' owns role 'transaction-processor', published as a Function,
    and plugin 'storage' published the transactions table."""
    build = BuildContext(
        environment=make_environment(["api", "fraud"]),
        naming=Naming("test"),
        stack=None,
        aws=AwsAccount("123456789012", "aws", "us-east-1", "us-east-1"),
        roles=RoleRegistry(lambda scope, key, name, service, description, **_: (Construct(), None)),
    )
    role = build.roles.role(
        "transaction-processor",
        service="lambda.amazonaws.com",
        description="d",
        plugin="api",
        scope=None,
        name="transaction-processor-role-test",
    )
    function = keys.Function(
        name="transaction-processor-test",
        arn="arn:aws:lambda:us-east-1:123456789012:function:transaction-processor-test",
        role=role,
        log_group_name="/aws/lambda/transaction-processor-test",
        log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/transaction-processor-test",
    )
    build.publish(keys.TRANSACTION_PROCESSOR, function, "api")
    build.publish(keys.TRANSACTIONS_TABLE, TABLE, "storage")
    return build


def fraud(build: BuildContext, *, requires_api: str = ">=1.1,<2", requires=(keys.TRANSACTION_PROCESSOR,)):
    declaration = PluginDeclaration(
        name="fraud", description="d", requires=(*requires, keys.TRANSACTIONS_TABLE), requires_api=requires_api
    )
    return PluginContext(build, declaration, NoSettings(), scope=None)


def statements(build: BuildContext, role: str = "transaction-processor") -> dict[str, tuple[str, tuple[str, ...]]]:
    return {s.sid: (s.granted_by, s.resources) for s in build.roles.get(role).statements}


def test_role_received_in_a_declared_key_takes_a_grant_on_the_plugins_own_queue():
    build = build_with_processor()
    ctx = fraud(build)
    FRAUD_QUEUE.grant_send(ctx.roles, ctx[keys.TRANSACTION_PROCESSOR].role, sid="FraudScreenSend")
    assert statements(build) == {
        "FraudScreenSend": ("fraud", (QUEUE_ARN,)),
        "FraudScreenSendKms": ("fraud", (TABLE.kms_key_arn,)),
    }


def test_function_received_in_a_declared_key_is_itself_the_grantee():
    build = build_with_processor()
    ctx = fraud(build)
    processor = ctx[keys.TRANSACTION_PROCESSOR]
    FRAUD_QUEUE.grant_send(ctx.roles, processor, sid="FraudScreenSend")
    ctx.roles.grant(processor, sid="FraudRulesRead", actions=["s3:GetObject"], resources=[QUEUE_ARN + "-rules"])
    assert statements(build) == {
        "FraudScreenSend": ("fraud", (QUEUE_ARN,)),
        "FraudScreenSendKms": ("fraud", (TABLE.kms_key_arn,)),
        "FraudRulesRead": ("fraud", (QUEUE_ARN + "-rules",)),
    }
    assert ctx.roles.holds_grant_on(processor, QUEUE_ARN)


def test_function_not_received_in_a_declared_key_is_refused_as_its_role_is():
    build = build_with_processor()
    (function, _) = build.values[keys.TRANSACTION_PROCESSOR.name]
    with pytest.raises(RegistrationError, match="without receiving it in a declared key"):
        FRAUD_QUEUE.grant_send(fraud(build, requires=()).roles, function, sid="FraudScreenSend")
    assert statements(build) == {}


def test_a_grantee_that_is_neither_a_role_nor_a_function_is_refused():
    with pytest.raises(RegistrationError, match="is neither a role nor a function carrying one"):
        FRAUD_QUEUE.grant_send(fraud(build_with_processor()).roles, object(), sid="FraudScreenSend")


def test_granting_to_another_plugins_role_by_name_is_refused_naming_the_key():
    build = build_with_processor()
    with pytest.raises(RegistrationError) as refused:
        fraud(build).roles.grant(
            "transaction-processor", sid="FraudScreenSend", actions=["sqs:SendMessage"], resources=[QUEUE_ARN]
        )
    assert str(refused.value) == (
        "plugin 'fraud' granted 'FraudScreenSend' to role 'transaction-processor' of plugin 'api' by name: "
        "declare keys.TRANSACTION_PROCESSOR ('api.transaction_processor') in 'requires' or 'uses' and pass "
        "ctx[keys.TRANSACTION_PROCESSOR].role to your value's grant"
    )
    assert statements(build) == {}


def test_granting_by_name_from_a_plugin_accepting_api_1_0_warns_and_still_grants():
    build = build_with_processor()
    with pytest.warns(PluginDeprecationWarning, match=r"by name: declare keys\.TRANSACTION_PROCESSOR .*deprecated"):
        fraud(build, requires_api=">=1.0,<2").roles.grant(
            "transaction-processor", sid="FraudScreenSend", actions=["sqs:SendMessage"], resources=[QUEUE_ARN]
        )
    assert statements(build) == {"FraudScreenSend": ("fraud", (QUEUE_ARN,))}


def test_deprecation_warning_points_at_the_plugins_line():
    build = build_with_processor()
    with pytest.warns(PluginDeprecationWarning) as caught:
        fraud(build, requires_api="").roles.grant(
            "transaction-processor", sid="FraudScreenSend", actions=["sqs:SendMessage"], resources=[QUEUE_ARN]
        )
    assert caught[0].filename == __file__


def test_role_not_received_in_a_declared_key_is_refused():
    build = build_with_processor()
    ctx = fraud(build, requires=())
    (processor,) = ctx.roles.all()
    with pytest.raises(
        RegistrationError, match="without receiving it in a declared key: declare keys.TRANSACTION_PROC"
    ):
        FRAUD_QUEUE.grant_send(ctx.roles, processor, sid="FraudScreenSend")


def test_reading_another_plugins_role_by_name_is_refused():
    with pytest.raises(RegistrationError, match="read role 'transaction-processor' of plugin 'api' by name"):
        fraud(build_with_processor()).roles.get("transaction-processor")


def test_raw_statement_on_a_published_table_is_refused_naming_its_grants():
    build = build_with_processor()
    ctx = fraud(build)
    ctx.roles.role("fraud-screen", description="d")
    with pytest.raises(RegistrationError) as refused:
        ctx.roles.grant("fraud-screen", sid="Backup", actions=["dynamodb:CreateBackup"], resources=[TABLE.arn])
    assert str(refused.value).startswith(
        f"plugin 'fraud' granted 'Backup' to role 'fraud-screen' with a raw statement on {TABLE.arn!r}, published as "
        "'storage.transactions_table': ask the published value instead (ctx[keys.TRANSACTIONS_TABLE].grant / "
    )


def test_raw_statement_inside_a_published_table_is_refused():
    build = build_with_processor()
    ctx = fraud(build)
    ctx.roles.role("fraud-screen", description="d")
    with pytest.raises(RegistrationError, match="raw statement on .*/index/dispatch-pending'"):
        ctx.roles.grant(
            "fraud-screen",
            sid="Index",
            actions=["dynamodb:Query"],
            resources=[TABLE.index_arn(TABLE.indexes[0])],
        )


def test_the_tables_own_grants_on_it_are_accepted():
    build = build_with_processor()
    ctx = fraud(build)
    role = ctx.roles.role("fraud-screen", description="d", service="backup.amazonaws.com")
    ctx[keys.TRANSACTIONS_TABLE].grant_backup(ctx.roles, role, sid="TransactionsBackup")
    assert set(statements(build, "fraud-screen")) == {
        "TransactionsBackup",
        "TransactionsBackupBackups",
        "TransactionsBackupKms",
    }


def test_own_role_by_name_on_own_resources_is_accepted_silently():
    build = build_with_processor()
    ctx = fraud(build, requires_api="")
    ctx.roles.role("fraud-screen", description="d")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctx.roles.grant("fraud-screen", sid="OwnQueue", actions=["sqs:SendMessage"], resources=[QUEUE_ARN])
    assert statements(build, "fraud-screen") == {"OwnQueue": ("fraud", (QUEUE_ARN,))}


class RawBackup:
    """Backs the real transactions table up with a raw statement on its ARN (a token in synth)."""

    def __init__(self, requires_api: str) -> None:
        self.requires_api = requires_api

    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(
            name="backup", description="d", requires=(keys.TRANSACTIONS_TABLE,), requires_api=self.requires_api
        )

    @hookimpl
    def payments_resources(self, ctx):
        ctx.roles.role("table-backup", description="d", service="backup.amazonaws.com")

    @hookimpl
    def payments_wiring(self, ctx):
        table = ctx[keys.TRANSACTIONS_TABLE]
        ctx.roles.grant("table-backup", sid="Backup", actions=["dynamodb:CreateBackup"], resources=[table.arn])


def test_raw_statement_on_the_real_tables_arn_fails_synth_naming_the_plugin():
    with pytest.raises(RegistrationError, match=r"plugin 'backup' granted 'Backup' .* published as 'storage.transac"):
        synth(["storage"], extra_plugins={"backup": RawBackup(">=1.1,<2")}, cache=False)


def test_raw_statement_on_the_real_tables_arn_from_a_1_0_plugin_warns_and_synthesizes():
    with pytest.warns(
        PluginDeprecationWarning, match=r"ask the published value instead \(ctx\[keys.TRANSACTIONS_TABLE"
    ):
        stack = synth(["storage"], extra_plugins={"backup": RawBackup(">=1.0,<2")}, cache=False)
    assert [s["Sid"] for s in stack.iam_statements("table-backup")] == ["Backup"]
