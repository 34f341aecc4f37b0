"""Storage plugin: the DynamoDB table holding payment transactions.

Provides ``keys.TRANSACTIONS_TABLE``. One on-demand table keyed ``transaction_id`` (S) +
``timestamp`` (N), encrypted with the platform CMK, with point-in-time recovery and TTL on
the runtime's idempotency records and a sparse index of incomplete dispatches (published on the
key, with the key that encrypts it). Functions get access through the published table
(``table.grant_read`` / ``grant_write`` / ``grant``, core/grants.py).
"""

from __future__ import annotations

from payments_platform.core import EnvironmentConfig, PluginContext, PluginDeclaration, aws, hookimpl, keys

from .settings import HASH_KEY, RANGE_KEY, StorageSettings

# The runtime's sparse index of transactions whose audit message and event are not yet confirmed
# sent (docs/RUNTIME.md, "Reconciler"): only idempotency records carry ``dispatch_pending``, and
# only until their dispatch completes, so the reconciler reads stranded work without a scan.
DISPATCH_INDEX = keys.TableIndex(name="dispatch-pending", hash_key="dispatch_pending", range_key="lease_expires_at")
# Enough for the stranded-age metric without reading the record (whose claim returns the rest).
DISPATCH_INDEX_ATTRIBUTES = ["target_timestamp"]

# Environments whose data must be recoverable whatever the settings say.
PRODUCTION_ENVIRONMENTS = ("prod",)


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="storage",
        description="DynamoDB table of payment transactions (on-demand, CMK-encrypted, point-in-time recovery)",
        provides=(keys.TRANSACTIONS_TABLE,),
        settings=StorageSettings,
        emulated_services=("dynamodb",),
    )


@hookimpl
def payments_configure(settings: StorageSettings, environment: EnvironmentConfig) -> None:
    if environment.name in PRODUCTION_ENVIRONMENTS and not settings.point_in_time_recovery:
        raise ValueError(
            "point_in_time_recovery cannot be disabled in production: transaction data must be recoverable"
        )


@hookimpl
def payments_resources(ctx: PluginContext) -> None:
    settings: StorageSettings = ctx.settings
    kms = ctx[keys.KMS_KEY]
    name = ctx.naming.name("payment-transactions", kind="dynamodb")

    table = aws.dynamodb_table.DynamodbTable(
        ctx.scope,
        "transactions_table",
        name=name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=HASH_KEY,
        range_key=RANGE_KEY,
        attribute=[
            aws.dynamodb_table.DynamodbTableAttribute(name=HASH_KEY, type="S"),
            aws.dynamodb_table.DynamodbTableAttribute(name=RANGE_KEY, type="N"),
            aws.dynamodb_table.DynamodbTableAttribute(name=DISPATCH_INDEX.hash_key, type="S"),
            aws.dynamodb_table.DynamodbTableAttribute(name=DISPATCH_INDEX.range_key, type="N"),
        ],
        global_secondary_index=[
            aws.dynamodb_table.DynamodbTableGlobalSecondaryIndex(
                name=DISPATCH_INDEX.name,
                hash_key=DISPATCH_INDEX.hash_key,
                range_key=DISPATCH_INDEX.range_key,
                projection_type="INCLUDE",
                non_key_attributes=DISPATCH_INDEX_ATTRIBUTES,
            )
        ],
        point_in_time_recovery=aws.dynamodb_table.DynamodbTablePointInTimeRecovery(
            enabled=settings.point_in_time_recovery
        ),
        # PCI DSS 3.6: data at rest under the platform CMK, whose use is controlled and logged.
        server_side_encryption=aws.dynamodb_table.DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=kms.arn),
        # Disabled TTL is written out (not omitted) so switching it off actually turns it off.
        ttl=(
            aws.dynamodb_table.DynamodbTableTtl(enabled=True, attribute_name=settings.ttl_attribute)
            if settings.ttl_enabled
            else aws.dynamodb_table.DynamodbTableTtl(enabled=False)
        ),
        # Every platform resource is destroyable; prod safety comes from PITR, not from this flag.
        deletion_protection_enabled=False,
        tags={"Name": name},
    )

    ctx.compliance.evidence(
        "3.5.1",
        table,
        expect={"server_side_encryption.enabled": True},
        attributes=("server_side_encryption.kms_key_arn",),
        note="transactions are encrypted at rest under the platform CMK; the runtime writes no PAN or CVC, "
        "only a keyed fingerprint and the last four digits",
    )
    ctx[keys.TRANSACTIONS_TABLE] = keys.Table(
        name=table.name,
        arn=table.arn,
        hash_key=HASH_KEY,
        range_key=RANGE_KEY,
        indexes=(DISPATCH_INDEX,),
        kms_key_arn=kms.arn,
        region=ctx.aws.region,
    )
    # The literal name: dashboards and alarms read better with it and need no dependency on the table.
    ctx.monitoring.table("transactions", table_name=name)
    ctx.outputs.add("transactions_table_name", table.name, description="DynamoDB table of payment transactions")
    ctx.outputs.add("transactions_table_arn", table.arn, description="ARN of the payment transactions table")
