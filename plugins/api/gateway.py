"""The REST API itself: routes, CORS, validation, gateway responses, deployment and stage.

Built from the plain-data description in definition.py; the deployment's ``redeployment``
trigger is the hash of that description, so any change to the API's shape redeploys it
(create_before_destroy keeps the stage pointing at a live deployment meanwhile).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from payments_platform.core import PluginContext, TerraformResourceLifecycle, aws, keys

from .definition import (
    CREATE_TRANSACTION_MODEL,
    PREFLIGHT_VALIDATOR,
    PROXY_INTEGRATION,
    ROUTES,
    VALIDATORS,
    api_definition,
    method_auth,
    paths,
    redeployment_hash,
)
from .functions import FUNCTIONS, function_reserved_concurrency
from .responses import GATEWAY_ERRORS, JSON, preflight_headers, quoted
from .settings import ApiSettings

# Access log line: who called what, and how it went. Never request or response bodies, never
# headers or query strings (a PAN could be pasted anywhere) -- PCI DSS 3.4 / 10.2.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "user": "$context.identity.user",
    "userAgent": "$context.identity.userAgent",
    "apiKeyId": "$context.identity.apiKeyId",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status",
    "errorMessage": "$context.error.message",
    "errorResponseType": "$context.error.responseType",
    "xrayTraceId": "$context.xrayTraceId",
}
ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))

PREFLIGHT_REQUEST_TEMPLATE = '{"statusCode": 200}'
ACCESS_LOG_GROUP_PREFIX = "payments-api-access"


@dataclass
class BuiltApi:
    rest_api: Any
    stage: Any
    deployment: Any
    name: str
    invoke_url: str
    redeployment_hash: str
    api_keys: dict[str, Any] = field(default_factory=dict)
    usage_plan: Any = None
    access_log_group: Any = None
    execution_log_group: Any = None
    account: Any = None
    method_settings: Any = None
    method_throttles: dict[str, Any] = field(
        default_factory=dict
    )  # "<path>/<METHOD>" → aws_api_gateway_method_settings
    methods: dict[str, Any] = field(default_factory=dict)  # "<path> <METHOD>" → aws_api_gateway_method
    validators: dict[str, Any] = field(default_factory=dict)


def create_api(
    ctx: PluginContext, settings: ApiSettings, functions: Mapping[str, keys.Function], schema: Mapping[str, Any]
) -> BuiltApi:
    """The REST API with its routes to ``functions`` (function key → the function), deployed to
    its logged, traced and throttled stage, with the clients' usage plan and API keys."""
    name = ctx.naming.name("payments-api")
    definition = api_definition(settings, schema, {key: f.physical_name for key, f in functions.items()})
    api = aws.api_gateway_rest_api.ApiGatewayRestApi(
        ctx.scope,
        "rest_api",
        name=name,
        description=f"Payments card-transaction API ({ctx.environment.name})",
        endpoint_configuration={"types": ["REGIONAL"]},
        api_key_source="HEADER",
        # A replacement API (new id, new URL) exists before the old one goes, so clients can
        # be moved over rather than facing a gap (checkov CKV_AWS_237).
        lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
    )
    routes = _routes(ctx.scope, settings, api, functions, schema)
    digest = redeployment_hash(definition)
    deployment = aws.api_gateway_deployment.ApiGatewayDeployment(
        ctx.scope,
        "deployment",
        rest_api_id=api.id,
        description="Managed by the api plugin; replaced whenever the API definition changes",
        triggers={"redeployment": digest},
        lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        depends_on=routes.parts,
    )
    account = _account_cloudwatch_role(ctx) if settings.manage_account_cloudwatch_role else None
    stage = _stage(ctx, settings, api, deployment, account)
    usage_plan, api_keys = _usage_plan(ctx, settings, api, stage.stage)
    return BuiltApi(
        rest_api=api,
        stage=stage.stage,
        deployment=deployment,
        name=name,
        invoke_url=f"https://{api.id}.execute-api.{ctx.aws.service_region}.amazonaws.com/{settings.stage_name}",
        redeployment_hash=digest,
        api_keys=api_keys,
        usage_plan=usage_plan,
        access_log_group=stage.access_log_group,
        execution_log_group=stage.execution_log_group,
        account=account,
        method_settings=stage.method_settings,
        method_throttles=stage.method_throttles,
        methods=routes.methods,
        validators=routes.validators,
    )


@dataclass
class _Routes:
    # everything the deployment must wait for (validators, model, methods, integrations, ...)
    parts: list[Any]
    methods: dict[str, Any]  # "<path> <METHOD>" → aws_api_gateway_method
    validators: dict[str, Any]  # validator key → aws_api_gateway_request_validator


def _routes(
    scope: Any, settings: ApiSettings, api: Any, functions: Mapping[str, keys.Function], schema: Mapping[str, Any]
) -> _Routes:
    """Resources, validators, the body model, each route's method and Lambda proxy integration,
    the CORS preflights and the gateway responses."""
    resources = {
        path: aws.api_gateway_resource.ApiGatewayResource(
            scope, f"resource_{path}", rest_api_id=api.id, parent_id=api.root_resource_id, path_part=path
        )
        for path in paths()
    }
    validators = {
        v.key: aws.api_gateway_request_validator.ApiGatewayRequestValidator(
            scope,
            f"validator_{v.key}",
            rest_api_id=api.id,
            name=v.name,
            validate_request_body=v.validate_request_body,
            validate_request_parameters=v.validate_request_parameters,
        )
        for v in VALIDATORS
    }
    model = aws.api_gateway_model.ApiGatewayModel(
        scope,
        "model_create_transaction",
        rest_api_id=api.id,
        name=CREATE_TRANSACTION_MODEL,
        description="Body of POST /transactions (runtime/schemas/create_transaction.schema.json)",
        content_type=JSON,
        schema=json.dumps(dict(schema), separators=(",", ":")),
    )
    routes = _Routes(parts=[*validators.values(), model], methods={}, validators=validators)
    auth = method_auth(settings)
    for route in ROUTES:
        construct_id = f"{route.path}_{route.http_method.lower()}"
        method = aws.api_gateway_method.ApiGatewayMethod(
            scope,
            construct_id,
            rest_api_id=api.id,
            resource_id=resources[route.path].id,
            http_method=route.http_method,
            request_parameters=dict(route.request_parameters) or None,
            request_validator_id=validators[route.validator].id,
            request_models=dict(route.request_models) or None,
            depends_on=[model] if route.request_models else None,
            **auth,
        )
        routes.methods[f"{route.path} {route.http_method}"] = method
        integration = aws.api_gateway_integration.ApiGatewayIntegration(
            scope,
            f"{construct_id}_integration",
            rest_api_id=api.id,
            resource_id=resources[route.path].id,
            http_method=method.http_method,
            uri=functions[route.function].resource.invoke_arn,
            **PROXY_INTEGRATION,
        )
        routes.parts += [method, integration]
    for path, methods in paths().items():
        routes.parts += _preflight(scope, api, path, resources[path], methods, validators[PREFLIGHT_VALIDATOR])
    routes.parts += _gateway_responses(scope, api)
    return routes


@dataclass
class _Stage:
    stage: Any
    access_log_group: Any
    execution_log_group: Any
    method_settings: Any
    method_throttles: dict[str, Any]


def _stage(ctx: PluginContext, settings: ApiSettings, api: Any, deployment: Any, account: Any) -> _Stage:
    """The stage with its log groups (created first, under the platform CMK), traced, and its
    method settings: throttled, metrics on, never full request/response logging."""
    scope, kms = ctx.scope, ctx[keys.KMS_KEY]
    access_log_group = aws.cloudwatch_log_group.CloudwatchLogGroup(
        scope,
        "access_log_group",
        name=f"/aws/apigateway/{ctx.naming.name(ACCESS_LOG_GROUP_PREFIX)}",
        retention_in_days=settings.log_retention_days,
        kms_key_id=kms.arn,
    )
    # Pre-created so API Gateway never creates it itself (unencrypted, never expiring).
    execution_log_group = aws.cloudwatch_log_group.CloudwatchLogGroup(
        scope,
        "execution_log_group",
        name=f"API-Gateway-Execution-Logs_{api.id}/{settings.stage_name}",
        retention_in_days=settings.log_retention_days,
        kms_key_id=kms.arn,
    )
    stage = aws.api_gateway_stage.ApiGatewayStage(
        scope,
        "stage",
        rest_api_id=api.id,
        deployment_id=deployment.id,
        stage_name=settings.stage_name,
        description=f"Payments API, {ctx.environment.name}",
        xray_tracing_enabled=True,
        cache_cluster_enabled=False,
        variables={"environment": ctx.environment.name, "log_level": settings.function_log_level},
        # API Gateway refuses any CloudWatch logging (access logs too) until the account
        # and region have a CloudWatch role: see README.md "Account CloudWatch role".
        access_log_settings=(
            {"destination_arn": access_log_group.arn, "format": ACCESS_LOG_FORMAT}
            if settings.execution_logging_available
            else None
        ),
        depends_on=[execution_log_group, access_log_group, *([account] if account is not None else [])],
    )
    method_settings = aws.api_gateway_method_settings.ApiGatewayMethodSettings(
        scope,
        "method_settings",
        rest_api_id=api.id,
        stage_name=stage.stage_name,
        method_path="*/*",
        settings={
            "throttling_rate_limit": settings.throttle_rate,
            "throttling_burst_limit": settings.throttle_burst,
            "metrics_enabled": True,
            "logging_level": settings.execution_logging_level,
            # PCI DSS 3.3 / 3.4: full request/response logging would write PANs and CVCs to logs.
            "data_trace_enabled": False,
            "caching_enabled": False,
        },
        depends_on=[account] if account is not None else None,
    )
    throttles = _method_throttles(ctx, settings, api, stage, account)
    return _Stage(stage, access_log_group, execution_log_group, method_settings, throttles)


def _preflight(scope: Any, api: Any, path: str, resource: Any, methods: tuple[str, ...], validator: Any) -> list[Any]:
    """OPTIONS answered by API Gateway itself (MOCK): the only method without authentication,
    as browsers send preflights without credentials."""
    headers = preflight_headers(methods)
    method = aws.api_gateway_method.ApiGatewayMethod(
        scope,
        f"{path}_options",
        rest_api_id=api.id,
        resource_id=resource.id,
        http_method="OPTIONS",
        authorization="NONE",
        api_key_required=False,
        request_validator_id=validator.id,
    )
    integration = aws.api_gateway_integration.ApiGatewayIntegration(
        scope,
        f"{path}_options_integration",
        rest_api_id=api.id,
        resource_id=resource.id,
        http_method=method.http_method,
        type="MOCK",
        request_templates={JSON: PREFLIGHT_REQUEST_TEMPLATE},
    )
    method_response = aws.api_gateway_method_response.ApiGatewayMethodResponse(
        scope,
        f"{path}_options_response",
        rest_api_id=api.id,
        resource_id=resource.id,
        http_method=method.http_method,
        status_code="200",
        response_parameters={f"method.response.header.{name}": True for name in headers},
        response_models={JSON: "Empty"},
    )
    integration_response = aws.api_gateway_integration_response.ApiGatewayIntegrationResponse(
        scope,
        f"{path}_options_integration_response",
        rest_api_id=api.id,
        resource_id=resource.id,
        http_method=method.http_method,
        status_code=method_response.status_code,
        response_parameters={f"method.response.header.{name}": quoted(value) for name, value in headers.items()},
        depends_on=[integration],
    )
    return [method, integration, method_response, integration_response]


@dataclass(frozen=True)
class MethodThrottle:
    rate: float  # requests per second, steady state
    burst: int


def method_throttle(settings: ApiSettings, function_key: str) -> MethodThrottle:
    """What a Lambda-backed method admits, sized from what its function serves (core policy
    PP-CAPACITY). Little's law, in flight = rate × duration: N reserved executions each busy for the
    planned p99 serve N ÷ p99 requests per second -- the method's steady rate (``method_throttle_rate``
    admits more, reported at synth); its burst is N, what can be in flight at once."""
    spec = next(spec for spec in FUNCTIONS if spec.key == function_key)
    reserved = function_reserved_concurrency(settings, spec)
    capacity = round(reserved * 1000 / settings.planned_p99_ms(function_key), 2)
    return MethodThrottle(rate=settings.method_throttle_rate or capacity, burst=reserved)


def client_throttle(settings: ApiSettings) -> MethodThrottle:
    """Each client's usage-plan throttle: its share of the tightest Lambda-backed method's rate and
    burst (``client_share``, by default 1 ÷ the number of clients), so that one client, however
    fast, leaves every other client its share of every method."""
    share = settings.client_share_of_capacity
    methods = [method_throttle(settings, route.function) for route in ROUTES]
    rate = min(m.rate for m in methods)
    burst = min(m.burst for m in methods)
    return MethodThrottle(rate=round(share * rate, 2), burst=max(1, math.floor(round(share * burst, 6))))


def _method_throttles(ctx: PluginContext, settings: ApiSettings, api: Any, stage: Any, account: Any) -> dict[str, Any]:
    """One method-level throttle per route, under the stage-wide one (which stays the seed's
    10,000 rps for the stage as a whole): API Gateway answers the excess 429 THROTTLED with
    Retry-After, before it reaches a function that could only refuse it."""
    throttles = {}
    for route in ROUTES:
        throttle = method_throttle(settings, route.function)
        method_path = f"{route.path}/{route.http_method}"
        throttles[method_path] = aws.api_gateway_method_settings.ApiGatewayMethodSettings(
            ctx.scope,
            f"method_settings_{route.path}_{route.http_method.lower()}",
            rest_api_id=api.id,
            stage_name=stage.stage_name,
            method_path=method_path,
            # A method's settings replace the stage's */* ones for it: the same logging and metrics.
            settings={
                "throttling_rate_limit": throttle.rate,
                "throttling_burst_limit": throttle.burst,
                "metrics_enabled": True,
                "logging_level": settings.execution_logging_level,
                "data_trace_enabled": False,
                "caching_enabled": False,
            },
            depends_on=[account] if account is not None else None,
        )
    return throttles


def _gateway_responses(scope: Any, api: Any) -> list[Any]:
    return [
        aws.api_gateway_gateway_response.ApiGatewayGatewayResponse(
            scope,
            f"gateway_response_{error.response_type.lower()}",
            rest_api_id=api.id,
            response_type=error.response_type,
            status_code=error.status_code,
            response_templates={JSON: error.template()},
            response_parameters={
                f"gatewayresponse.header.{name}": quoted(value) for name, value in error.response_headers().items()
            },
        )
        for error in GATEWAY_ERRORS
    ]


def _usage_plan(ctx: PluginContext, settings: ApiSettings, api: Any, stage: Any) -> tuple[Any, dict[str, Any]]:
    """Per-client throttling (always: ``client_throttle``), and one API key per client (with API-key auth)."""
    scope = ctx.scope
    per_client = client_throttle(settings)
    plan = aws.api_gateway_usage_plan.ApiGatewayUsagePlan(
        scope,
        "usage_plan",
        name=ctx.naming.name("payments-usage-plan"),
        description="Per-client throttling of the payments API",
        api_stages=[aws.api_gateway_usage_plan.ApiGatewayUsagePlanApiStages(api_id=api.id, stage=stage.stage_name)],
        throttle_settings={"rate_limit": per_client.rate, "burst_limit": per_client.burst},
    )
    api_keys: dict[str, Any] = {}
    for client in settings.api_clients:
        key = aws.api_gateway_api_key.ApiGatewayApiKey(
            scope,
            f"api_key_{client}",
            name=ctx.naming.name(f"payments-client-{client}"),
            description=f"Payments API key of client '{client}'",
            enabled=True,
        )
        aws.api_gateway_usage_plan_key.ApiGatewayUsagePlanKey(
            scope, f"usage_plan_key_{client}", key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id
        )
        api_keys[client] = key
    return plan, api_keys


ACCOUNT_ROLE_KEY = "api-gateway-cloudwatch"


def _account_cloudwatch_role(ctx: PluginContext) -> Any:
    """The account-and-region-wide role API Gateway writes CloudWatch logs with (a singleton:
    only the environment with ``manage_account_cloudwatch_role = true`` creates it).
    Its permissions are granted in ``wiring`` (see :func:`grant_account_cloudwatch_role`)."""
    role = ctx.roles.role(
        ACCOUNT_ROLE_KEY,
        service="apigateway.amazonaws.com",
        description="API Gateway account-level role for execution and access logging to CloudWatch Logs",
    )
    return aws.api_gateway_account.ApiGatewayAccount(
        ctx.scope,
        "account",
        cloudwatch_role_arn=role.arn,
        # Destroying this environment must not leave the region pointing at a deleted role.
        reset_on_delete=True,
        depends_on=[role.policy],  # API Gateway checks the role's permissions on update
    )


def grant_account_cloudwatch_role(ctx: PluginContext) -> None:
    """What API Gateway does with the role: write streams into its execution log groups and
    the access log group. Log groups are pre-created (encrypted, with retention), so there
    is deliberately no logs:CreateLogGroup -- an API without a pre-created group gets no
    execution logs rather than an unencrypted, never-expiring group."""
    # The role serves every API in the account and region: every environment's groups.
    log_groups = ctx.aws.arn("logs", "log-group:API-Gateway-Execution-Logs_*")
    access_groups = ctx.aws.arn("logs", f"log-group:/aws/apigateway/{ACCESS_LOG_GROUP_PREFIX}-*")
    ctx.roles.grant(
        ACCOUNT_ROLE_KEY,
        sid="WriteApiGatewayLogs",
        actions=[
            "logs:CreateLogStream",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
        ],
        resources=[log_groups, f"{log_groups}:*", access_groups, f"{access_groups}:*"],
    )
    ctx.roles.grant(
        ACCOUNT_ROLE_KEY,
        sid="DescribeLogGroups",
        actions=["logs:DescribeLogGroups"],
        resources=["*"],
        any_resource_reason=(
            "logs:DescribeLogGroups lists log groups account-wide and supports no resource-level "
            "permission; API Gateway calls it to find its execution and access log groups"
        ),
    )
