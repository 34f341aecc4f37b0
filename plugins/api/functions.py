"""The Lambda functions -- the two behind the API, the scheduled transaction reconciler and the
card-fingerprint key's rotation function --
their log groups and the API's invoke permissions.

All run the same deterministic package (packaging.py) with different handlers, on
``arm64`` by default: the runtime is pure Python (no native wheels), and Graviton costs
about 20 % less per GB-second for the same or better latency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments_platform.core import (
    AssetType,
    PluginContext,
    RegistrationError,
    TerraformAsset,
    aws,
    keys,
    platform_function,
)

from .code_signing import SignedCode, create_signed_code
from .definition import CARD_FINGERPRINT_ROTATOR, STATUS_CHECKER, TRANSACTION_PROCESSOR, TRANSACTION_RECONCILER
from .packaging import LambdaPackage, support_trees
from .settings import ApiSettings

LAMBDA_RUNTIME = "python3.12"


@dataclass(frozen=True)
class FunctionSpec:
    """What to build for one function (platform_function builds it; keys.Function is the result)."""

    key: str  # the function's key: its base name, its role's key, its monitoring key
    handler: str
    description: str
    role_description: str
    environment: tuple[str, ...]  # which variables of function_environment() it gets
    reserved_concurrency: int | None = None  # None: the api setting


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        TRANSACTION_PROCESSOR,
        "payments_runtime.transactions.handler",
        "POST /transactions: validates and records a card transaction, then audits and notifies",
        "Transaction processor: writes transactions, sends audit messages, publishes payment events",
        (
            "TRANSACTIONS_TABLE_NAME",
            "AUDIT_QUEUE_URL",
            "NOTIFICATIONS_TOPIC_ARN",
            "CARD_FINGERPRINT_SECRET_ARN",
            "LOG_LEVEL",
            "ENVIRONMENT",
        ),
    ),
    FunctionSpec(
        STATUS_CHECKER,
        "payments_runtime.status.handler",
        "GET /status: reads one transaction's status",
        "Status checker: reads transactions only",
        # Only what the status handler reads: it never sees the queue, topic or HMAC key.
        ("TRANSACTIONS_TABLE_NAME", "LOG_LEVEL", "ENVIRONMENT"),
    ),
    FunctionSpec(
        TRANSACTION_RECONCILER,
        "payments_runtime.reconciler.handler",
        "Every minute: completes the audit message and event of transactions whose dispatch was cut short",
        "Transaction reconciler: reads stranded dispatches, resends audit messages and payment events",
        # No HMAC key: it re-sends what was recorded and never fingerprints anything.
        (
            "TRANSACTIONS_TABLE_NAME",
            "DISPATCH_INDEX_NAME",
            "AUDIT_QUEUE_URL",
            "NOTIFICATIONS_TOPIC_ARN",
            "LOG_LEVEL",
            "ENVIRONMENT",
        ),
        # One run at a time is enough (runs are also safe when they overlap).
        reserved_concurrency=1,
    ),
    FunctionSpec(
        CARD_FINGERPRINT_ROTATOR,
        "payments_runtime.fingerprint_rotation.handler",
        "Run by Secrets Manager: replaces the card-fingerprint HMAC key at the end of its cryptoperiod",
        "Card-fingerprint key rotation: writes and stages versions of that one secret",
        # The secret comes in the rotation event; it touches no table, queue or topic.
        ("LOG_LEVEL", "ENVIRONMENT"),
        reserved_concurrency=1,  # Secrets Manager rotates a secret one step at a time
    ),
)

# The runtime's sparse index of incomplete dispatches (runtime/idempotency.py), which the table
# provider must offer.
DISPATCH_INDEX_KEYS = ("dispatch_pending", "lease_expires_at")


def dispatch_index(table: keys.Table) -> keys.TableIndex:
    index = table.index_on(*DISPATCH_INDEX_KEYS)
    if index is None:
        raise RegistrationError(
            f"the transactions table {table.name!r} offers no index on {DISPATCH_INDEX_KEYS[0]!r} + "
            f"{DISPATCH_INDEX_KEYS[1]!r}: the transaction reconciler reads stranded dispatches through it "
            "(the storage plugin provides it)"
        )
    return index


def function_environment(ctx: PluginContext, settings: ApiSettings, secret_arn: str) -> dict[str, str]:
    table = ctx[keys.TRANSACTIONS_TABLE]
    return {
        "TRANSACTIONS_TABLE_NAME": table.name,
        "DISPATCH_INDEX_NAME": dispatch_index(table).name,
        "AUDIT_QUEUE_URL": ctx[keys.AUDIT_QUEUE].url,
        "NOTIFICATIONS_TOPIC_ARN": ctx[keys.NOTIFICATIONS_TOPIC].arn,
        "CARD_FINGERPRINT_SECRET_ARN": secret_arn,
        "LOG_LEVEL": settings.function_log_level,
        "ENVIRONMENT": ctx.environment.name,
    }


def function_names(ctx: PluginContext) -> dict[str, str]:
    return {spec.key: ctx.naming.name(spec.key, kind="lambda") for spec in FUNCTIONS}


def package_asset(
    ctx: PluginContext, settings: ApiSettings, package: LambdaPackage
) -> tuple[keys.FunctionPackage, SignedCode | None]:
    """The package as a synth asset: copied into the synth output and referenced by a relative
    path, so the synthesized JSON is the same on every machine -- signed first where the environment
    signs its code (code_signing.py). Published as ``keys.RUNTIME_PACKAGE`` so other plugins'
    functions run the same (signed) package."""
    asset = TerraformAsset(ctx.scope, "lambda_package", path=str(package.path), type=AssetType.FILE)
    signed = create_signed_code(ctx, asset.path, package) if settings.code_signing else None
    return keys.FunctionPackage(
        code=signed.function_code() if signed is not None else {"filename": asset.path},
        source_code_hash=package.source_code_hash,
        runtime=LAMBDA_RUNTIME,
        architecture=settings.architecture,
        signer=signed.signer if signed is not None else None,
        support=support_trees(),
    ), signed


def create_functions(
    ctx: PluginContext, settings: ApiSettings, package: keys.FunctionPackage, secret_arn: str
) -> dict[str, keys.Function]:
    """Each function whole (core/builders.py): its role with the basics, its log group, its
    monitoring; what each handler calls is granted in wiring (function_access.py)."""
    environment = function_environment(ctx, settings, secret_arn)
    return {
        spec.key: platform_function(
            ctx,
            spec.key.replace("-", "_"),
            key=spec.key,
            description=spec.description,
            role_description=spec.role_description,
            package=package,
            handler=spec.handler,
            environment={k: environment[k] for k in spec.environment},
            memory_mb=settings.memory_mb,
            timeout_seconds=settings.timeout_seconds,
            reserved_concurrency=function_reserved_concurrency(settings, spec),
            log_retention_days=settings.log_retention_days,
            **planned_service_time(settings, spec.key),
        )
        for spec in FUNCTIONS
    }


def function_reserved_concurrency(settings: ApiSettings, spec: FunctionSpec) -> int:
    return spec.reserved_concurrency or settings.function_reserved_concurrency(spec.key)


def planned_service_time(settings: ApiSettings, function_key: str) -> dict[str, Any]:
    planned = settings.service_time.get(function_key)
    if planned is None:
        return {}
    return {"planned_p99_ms": planned.p99_ms, "planned_p99_source": planned.source}


def allow_api_invoke(
    ctx: PluginContext, functions: Mapping[str, keys.Function], execution_arn: str, stage_name: str, routes: Any
) -> None:
    """Each function may be invoked by this API's stage, on its own method and path only."""
    for route in routes:
        function = functions[route.function]
        permission = aws.lambda_permission.LambdaPermission(
            ctx.scope,
            f"{route.function.replace('-', '_')}_invoke_permission",
            statement_id="AllowPaymentsApiInvoke",
            action="lambda:InvokeFunction",
            function_name=function.name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{execution_arn}/{stage_name}/{route.http_method}/{route.path}",
        )
        ctx.compliance.evidence(
            "7.2",
            permission,
            attributes=("principal", "source_arn"),
            note=f"{route.function} may be invoked by this API's stage on {route.http_method} /{route.path} only",
        )
