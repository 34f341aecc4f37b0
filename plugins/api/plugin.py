"""api plugin: the API Gateway REST API, the two Lambda functions behind it, the scheduled
transaction reconciler that completes dispatches the API's function could not finish, and the
rotation function of the card-fingerprint key.

Requires the network, the transactions table, the audit queue and the notifications topic;
provides ``keys.REST_API``, ``keys.RUNTIME_PACKAGE`` and a handle on each function
(``keys.TRANSACTION_PROCESSOR``, ...: published_functions.py). Settings: settings.py; operations
notes: README.md.

    resources  package the runtime (published for other plugins' functions), create the
               HMAC-key secret, the functions (platform_function: each with its role and
               its basics, its log group, its monitoring), the REST API, stage, usage plan
               and API keys, the reconciler's schedule and alarms, the key's rotation schedule;
               register the API and its access log group for monitoring;
               publish keys.REST_API and the functions as built; outputs
    wiring     grant each role exactly what its handler calls (and the account
               CloudWatch role, when this environment owns it); where a payment connector
               is enabled (keys.PAYMENT_CONNECTOR), let the processor and the reconciler
               invoke it and tell them its name (payment_connector.py); else: intake only
    local      the example requests printed at `local up`, the checks of `local smoke`, the
               chaos scenario (local_checks.py, chaos_scenario.py) and the card-data detector
               (runtime/redaction.py) the core's scans use
    authoring  `new-plugin NAME --kind connector`: a payment connector distribution to start
               from (connector_scaffold.py)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from payments_platform.core import (
    CardDataDetector,
    ChaosScenario,
    ExampleRequest,
    LocalDeployment,
    PluginContext,
    PluginDeclaration,
    ScaffoldKind,
    SmokeCheck,
    hookimpl,
    keys,
)

from .card_fingerprint_secret import create_card_fingerprint_secret
from .connector_scaffold import CONNECTOR_SCAFFOLD
from .control_evidence import register_evidence
from .definition import CARD_FINGERPRINT_ROTATOR, ROUTES, TRANSACTION_RECONCILER, load_create_transaction_schema
from .function_access import grant_function_access
from .functions import allow_api_invoke, create_functions, package_asset
from .gateway import BuiltApi, create_api, grant_account_cloudwatch_role
from .key_rotation import grant_rotator_access, rotate_card_fingerprint_key
from .packaging import build_lambda_package
from .payment_connector import connect_payment_connector
from .published_functions import FUNCTION_KEYS, publish_functions
from .reconciliation import register_reconciler_alarms, register_unparseable_record_alarm, schedule_reconciler
from .settings import ApiSettings

MONITORING_API_KEY = "payments"


@dataclass
class _Build:
    functions: dict[str, keys.Function]
    api: BuiltApi
    secret_arn: str


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="api",
        description=(
            "API Gateway REST API (API-key or IAM auth, validation, CORS), the two payment Lambdas "
            "and the scheduled transaction reconciler"
        ),
        requires=(keys.NETWORK, keys.TRANSACTIONS_TABLE, keys.AUDIT_QUEUE, keys.NOTIFICATIONS_TOPIC),
        # Plugin API 1.2: the connector that authorizes payments (payment_connector.py); none: intake only.
        uses=(keys.PAYMENT_CONNECTOR,),
        provides=(keys.REST_API, keys.RUNTIME_PACKAGE, *FUNCTION_KEYS.values()),
        settings=ApiSettings,
        # s3 and signer: only where the environment signs its code (settings.py).
        emulated_services=(
            "apigateway",
            "lambda",
            "logs",
            "s3",
            "scheduler",
            "secretsmanager",
            "signer",
        ),
    )


@hookimpl
def payments_resources(ctx: PluginContext) -> None:
    settings: ApiSettings = ctx.settings
    package, signed = package_asset(ctx, settings, build_lambda_package(settings.build_cache_dir))
    ctx[keys.RUNTIME_PACKAGE] = package
    secret = create_card_fingerprint_secret(ctx)
    functions = create_functions(ctx, settings, package, secret.arn)
    publish_functions(ctx, functions)
    api = create_api(ctx, settings, functions, load_create_transaction_schema())
    allow_api_invoke(ctx, functions, api.rest_api.execution_arn, settings.stage_name, ROUTES)
    register_evidence(ctx, functions, api, secret.secret, signed)
    schedule_reconciler(ctx, functions[TRANSACTION_RECONCILER])
    rotate_card_fingerprint_key(
        ctx, secret, functions[CARD_FINGERPRINT_ROTATOR], settings.fingerprint_key_rotation_days
    )
    register_reconciler_alarms(ctx, functions[TRANSACTION_RECONCILER])
    register_unparseable_record_alarm(
        ctx, [function.physical_name for key, function in functions.items() if key != CARD_FINGERPRINT_ROTATOR]
    )

    # Each function registered itself (core/builders.py); PCI DSS 10.2: who called the API belongs
    # to the audit trail too.
    ctx.monitoring.api(MONITORING_API_KEY, api_name=api.name, stage_name=settings.stage_name)
    ctx.monitoring.log_group(
        "api-access", log_group_name=api.access_log_group.name, log_group_arn=api.access_log_group.arn
    )
    ctx.monitoring.log_group(
        "api-execution", log_group_name=api.execution_log_group.name, log_group_arn=api.execution_log_group.arn
    )

    ctx[keys.REST_API] = keys.RestApi(
        name=api.name,
        rest_api_id=api.rest_api.id,
        arn=api.rest_api.arn,
        stage_name=api.stage.stage_name,
        stage_arn=api.stage.arn,
        execution_arn=api.rest_api.execution_arn,
        invoke_url=api.invoke_url,
        usage_plan_id=api.usage_plan.id,
    )
    ctx.outputs.add("api_invoke_url", api.invoke_url, description="Invoke URL of the payments API stage")
    ctx.outputs.add(
        "api_key_ids",
        [api.api_keys[client].id for client in sorted(api.api_keys)],
        description="IDs of the clients' API keys (values: aws apigateway get-api-key --include-value)",
    )
    for key, function in sorted(functions.items()):
        ctx.outputs.add(
            f"{key.replace('-', '_')}_function_name",
            function.name,
            description=f"Name of the {key} Lambda function",
        )
    ctx.stash["build"] = _Build(functions=functions, api=api, secret_arn=secret.arn)  # for wiring


@hookimpl
def payments_wiring(ctx: PluginContext) -> None:
    build: _Build = ctx.stash.pop("build")
    grant_function_access(ctx, build.functions, build.secret_arn)
    connect_payment_connector(ctx, build.functions, build.secret_arn)
    grant_rotator_access(ctx, build.functions[CARD_FINGERPRINT_ROTATOR], build.secret_arn)
    if build.api.account is not None:
        grant_account_cloudwatch_role(ctx)


# -- local: what the core's tools run against this API once deployed ----------------------------


@hookimpl
def payments_local_examples(deployment: LocalDeployment, register: Callable[[ExampleRequest], None]) -> None:
    from .local_checks import example_requests

    for example in example_requests(deployment):
        register(example)


@hookimpl
def payments_smoke_checks(deployment: LocalDeployment, register: Callable[[SmokeCheck], None]) -> None:
    from .local_checks import PaymentSmoke

    for check in PaymentSmoke(deployment).checks():
        register(check)


@hookimpl
def payments_chaos_scenarios(deployment: LocalDeployment, register: Callable[[ChaosScenario], None]) -> None:
    from .chaos_scenario import PaymentsScenario

    register(PaymentsScenario(deployment))


@hookimpl
def payments_card_data(register: Callable[[CardDataDetector], None]) -> None:
    from payments_platform.runtime.redaction import contains_card_data

    register(CardDataDetector("PAN or labelled CVC (runtime/redaction.py)", contains_card_data))


@hookimpl
def payments_scaffold_kinds(register: Callable[[ScaffoldKind], None]) -> None:
    register(CONNECTOR_SCAFFOLD)
