"""acquirer-simulator plugin: the first-party payment connector (plugin API 1.2) for local, dev and
staging -- an acquirer simulator deciding outcomes by Stripe's test card numbers
(runtime/acquirer_simulator.py lists them), with its authorization ledger.

Requires the network and the runtime package; provides ``keys.PAYMENT_CONNECTOR``. Settings:
settings.py.

    resources  the authorization ledger (DynamoDB, on-demand, platform CMK, point-in-time
               recovery, keyed by the idempotency key), the connector function (platform_function:
               its own role, log group, monitoring) granted GetItem/PutItem on the ledger only;
               publish keys.PAYMENT_CONNECTOR

The processor is granted invoke by the plugin consuming the key (the api plugin), never here: the
connector knows nothing of who calls it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from payments_platform.core import PluginContext, PluginDeclaration, aws, hookimpl, keys, platform_function

from .settings import SimulatorSettings

CONNECTOR = "acquirer-simulator"
HANDLER = "payments_runtime.acquirer_simulator.handler"
LEDGER_KEY = "idempotency_key"  # runtime/acquirer_simulator.py LEDGER_KEY
# What runtime/acquirer_simulator.py calls: a read of the key, then a conditional put.
LEDGER_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="acquirer-simulator",
        description="Payment connector simulating an acquirer with Stripe's test cards, and its authorization ledger",
        requires=(keys.NETWORK, keys.RUNTIME_PACKAGE),
        provides=(keys.PAYMENT_CONNECTOR,),
        settings=SimulatorSettings,
        emulated_services=("dynamodb", "lambda", "logs"),
        requires_api=">=1.2,<2",
        checkov_baseline=str(Path(__file__).with_name("checkov-baseline.toml")),
    )


@hookimpl
def payments_resources(ctx: PluginContext) -> None:
    settings: SimulatorSettings = ctx.settings
    ledger = _ledger(ctx, settings)
    connector = platform_function(
        ctx,
        "connector",
        key=CONNECTOR,
        description="Payment connector: authorizes cards as an acquirer simulator (Stripe test cards)",
        role_description="Acquirer simulator: reads and records authorizations in its ledger, nothing else",
        package=ctx[keys.RUNTIME_PACKAGE],
        handler=HANDLER,
        environment={
            "LEDGER_TABLE_NAME": ledger.name,
            "LATENCY_MS": str(settings.latency_ms),
            "SLOW_ANSWER_MS": str(settings.slow_answer_ms),
            "LOG_LEVEL": "INFO",
            "ENVIRONMENT": ctx.environment.name,
        },
        memory_mb=settings.memory_mb,
        timeout_seconds=settings.timeout_seconds,
        reserved_concurrency=settings.reserved_concurrency,
        log_retention_days=settings.log_retention_days,
    )
    ledger.grant(ctx.roles, connector, actions=LEDGER_ACTIONS, sid="AuthorizationLedgerWrite")
    ctx[keys.PAYMENT_CONNECTOR] = keys.Connector(
        function=connector, display_name="Acquirer simulator (Stripe test cards)"
    )
    ctx.outputs.add("connector_function_name", connector.name, description="Name of the payment connector Lambda")
    ctx.outputs.add("authorization_ledger_table_name", ledger.name, description="The acquirer simulator's ledger")


def _ledger(ctx: PluginContext, settings: SimulatorSettings) -> keys.Table:
    kms = ctx[keys.KMS_KEY]
    name = ctx.naming.name("acquirer-ledger", kind="dynamodb")
    table: Any = aws.dynamodb_table.DynamodbTable(
        ctx.scope,
        "authorization_ledger",
        name=name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=LEDGER_KEY,
        attribute=[aws.dynamodb_table.DynamodbTableAttribute(name=LEDGER_KEY, type="S")],
        point_in_time_recovery=aws.dynamodb_table.DynamodbTablePointInTimeRecovery(
            enabled=settings.point_in_time_recovery
        ),
        server_side_encryption=aws.dynamodb_table.DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=kms.arn),
        deletion_protection_enabled=False,
        tags={"Name": name},
    )
    ctx.compliance.evidence(
        "3.5.1",
        table,
        expect={"server_side_encryption.enabled": True},
        attributes=("server_side_encryption.kms_key_arn",),
        note="the authorization ledger is encrypted under the platform CMK and holds no PAN or CVC "
        "(brand and last four digits at most)",
    )
    ctx.monitoring.table("acquirer-ledger", table_name=name)
    return keys.Table(name=table.name, arn=table.arn, hash_key=LEDGER_KEY, kms_key_arn=kms.arn, region=ctx.aws.region)
