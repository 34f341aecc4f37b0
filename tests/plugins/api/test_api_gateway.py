"""The REST API: routes and auth, CORS, validation, gateway responses, stage, deployment."""

from __future__ import annotations

import importlib.resources
import json

import pytest
from api_support import ref, strip

from payments_platform.core.testing import assert_resource

CORS_HEADERS = "Content-Type,Authorization,X-Api-Key,X-Amz-Date,X-Amz-Security-Token,Idempotency-Key"


def methods(stack, http_method):
    return [b for b in stack.resources("aws_api_gateway_method").values() if b["http_method"] == http_method]


# --- routes and authentication -------------------------------------------------------


def test_routes_are_post_transactions_and_get_status(api_key_stack):
    paths = {b["path_part"] for b in api_key_stack.resources("aws_api_gateway_resource").values()}
    assert paths == {"transactions", "status"}
    assert {b["http_method"] for b in api_key_stack.resources("aws_api_gateway_method").values()} == {
        "POST",
        "GET",
        "OPTIONS",
    }


def test_api_key_auth_requires_a_key_on_post_and_get(api_key_stack):
    for method in methods(api_key_stack, "POST") + methods(api_key_stack, "GET"):
        assert (method["authorization"], method["api_key_required"]) == ("NONE", True)


def test_iam_auth_uses_sigv4_on_post_and_get(iam_stack):
    for method in methods(iam_stack, "POST") + methods(iam_stack, "GET"):
        assert (method["authorization"], method["api_key_required"]) == ("AWS_IAM", False)


@pytest.mark.parametrize("stack_name", ["api_key_stack", "iam_stack"])
def test_options_is_the_only_unauthenticated_method(request, stack_name):
    stack = request.getfixturevalue(stack_name)
    open_methods = {
        b["http_method"]
        for b in stack.resources("aws_api_gateway_method").values()
        if b["authorization"] == "NONE" and not b.get("api_key_required")
    }
    assert open_methods == {"OPTIONS"}


def test_routes_are_lambda_proxy_integrations(api_key_stack):
    processor = ref(api_key_stack, "aws_lambda_function", "/transaction_processor", "invoke_arn")
    checker = ref(api_key_stack, "aws_lambda_function", "/status_checker", "invoke_arn")
    for uri in (processor, checker):
        assert_resource(
            api_key_stack,
            "aws_api_gateway_integration",
            {"type": "AWS_PROXY", "integration_http_method": "POST", "uri": uri},
        )


def test_each_client_gets_an_api_key_bound_to_the_stage_by_the_usage_plan(api_key_stack):
    names = {b["name"] for b in api_key_stack.resources("aws_api_gateway_api_key").values()}
    assert names == {"payments-client-checkout-web-test", "payments-client-checkout-mobile-test"}
    plan = api_key_stack.one("aws_api_gateway_usage_plan")
    assert plan["api_stages"] == [
        {
            "api_id": ref(api_key_stack, "aws_api_gateway_rest_api", "/rest_api", "id"),
            "stage": ref(api_key_stack, "aws_api_gateway_stage", "/stage", "stage_name"),
        }
    ]
    plan_keys = api_key_stack.resources("aws_api_gateway_usage_plan_key").values()
    assert sorted(k["key_id"] for k in plan_keys) == sorted(
        ref(api_key_stack, "aws_api_gateway_api_key", f"/api_key_{c}", "id")
        for c in ("checkout-mobile", "checkout-web")
    )
    assert {k["key_type"] for k in plan_keys} == {"API_KEY"}


def test_iam_auth_has_no_api_keys_but_still_a_throttling_usage_plan(iam_stack):
    assert not iam_stack.resources("aws_api_gateway_api_key")
    assert not iam_stack.resources("aws_api_gateway_usage_plan_key")
    # No clients to share between: the tightest method's whole capacity, 3 ÷ 10 s (no planned p99).
    assert iam_stack.one("aws_api_gateway_usage_plan")["throttle_settings"] == {"rate_limit": 0.3, "burst_limit": 3}


# --- CORS ------------------------------------------------------------------------------


def test_options_preflight_is_a_mock_integration(api_key_stack):
    mocks = [b for b in api_key_stack.resources("aws_api_gateway_integration").values() if b["type"] == "MOCK"]
    assert len(mocks) == 2
    assert all(b["request_templates"] == {"application/json": '{"statusCode": 200}'} for b in mocks)


@pytest.mark.parametrize("allowed_methods", ["'POST,OPTIONS'", "'GET,OPTIONS'"])
def test_options_integration_response_carries_the_cors_headers(api_key_stack, allowed_methods):
    assert_resource(
        api_key_stack,
        "aws_api_gateway_integration_response",
        {
            "response_parameters": {
                "method.response.header.Access-Control-Allow-Origin": "'*'",
                "method.response.header.Access-Control-Allow-Methods": allowed_methods,
                "method.response.header.Access-Control-Allow-Headers": f"'{CORS_HEADERS}'",
                "method.response.header.Access-Control-Max-Age": "'600'",
            }
        },
    )


def test_options_method_response_declares_the_cors_headers(api_key_stack):
    for body in api_key_stack.resources("aws_api_gateway_method_response").values():
        assert body["response_parameters"]["method.response.header.Access-Control-Allow-Origin"] is True


# --- request validation ----------------------------------------------------------------


def test_model_schema_is_the_runtime_schema_file(api_key_stack):
    shipped = importlib.resources.files("payments_platform.runtime").joinpath("schemas/create_transaction.schema.json")
    model = api_key_stack.one("aws_api_gateway_model")
    assert model["content_type"] == "application/json"
    assert model["name"].isalnum()
    assert json.loads(model["schema"]) == json.loads(shipped.read_text())


def test_post_validates_its_body_against_the_model(api_key_stack):
    (post,) = methods(api_key_stack, "POST")
    model = api_key_stack.one("aws_api_gateway_model")
    assert post["request_models"] == {"application/json": model["name"]}
    assert post["request_validator_id"] == ref(
        api_key_stack, "aws_api_gateway_request_validator", "/validator_body", "id"
    )
    assert_resource(api_key_stack, "aws_api_gateway_request_validator", {"validate_request_body": True})


def test_get_requires_the_transaction_id_query_parameter(api_key_stack):
    (get,) = methods(api_key_stack, "GET")
    assert get["request_parameters"] == {"method.request.querystring.transaction_id": True}
    validator = api_key_stack.by_path("/validator_params")[1]
    assert (validator["validate_request_parameters"], validator["validate_request_body"]) == (True, False)
    assert get["request_validator_id"] == ref(
        api_key_stack, "aws_api_gateway_request_validator", "/validator_params", "id"
    )


# --- gateway responses -----------------------------------------------------------------

RESPONSE_TYPES = {
    "DEFAULT_4XX",
    "DEFAULT_5XX",
    "BAD_REQUEST_BODY",
    "BAD_REQUEST_PARAMETERS",
    "API_CONFIGURATION_ERROR",
    "MISSING_AUTHENTICATION_TOKEN",
    "INVALID_API_KEY",
    "ACCESS_DENIED",
    "THROTTLED",
    "QUOTA_EXCEEDED",
    "REQUEST_TOO_LARGE",
    "UNAUTHORIZED",
    "WAF_FILTERED",
}
RUNTIME_ERROR_TYPES = {"invalid_request_error", "card_error", "authentication_error", "idempotency_error", "api_error"}


def test_gateway_responses_cover_the_required_types(api_key_stack):
    found = {b["response_type"] for b in api_key_stack.resources("aws_api_gateway_gateway_response").values()}
    assert RESPONSE_TYPES <= found


def test_gateway_responses_carry_the_cors_origin_header(api_key_stack):
    for body in api_key_stack.resources("aws_api_gateway_gateway_response").values():
        assert body["response_parameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'", body[
            "response_type"
        ]


def test_gateway_responses_render_the_runtime_error_shape(api_key_stack):
    for body in api_key_stack.resources("aws_api_gateway_gateway_response").values():
        template = body["response_templates"]["application/json"]
        # What API Gateway renders: messageString is a quoted JSON string, requestId a bare id.
        rendered = json.loads(
            template.replace("$context.error.messageString", '"Forbidden"').replace("$context.requestId", "req-1")
        )
        error = rendered["error"]
        assert list(rendered) == ["error"]
        assert set(error) == {"type", "code", "message", "request_id"}, body["response_type"]
        assert error["type"] in RUNTIME_ERROR_TYPES
        assert (error["message"], error["request_id"]) == ("Forbidden", "req-1")


def test_bad_request_body_never_echoes_the_validation_detail(api_key_stack):
    # $context.error.validationErrorString quotes the offending value: possibly a PAN or CVC.
    body = api_key_stack.one("aws_api_gateway_gateway_response", response_type="BAD_REQUEST_BODY")
    assert "validationErrorString" not in body["response_templates"]["application/json"]


# --- stage, method settings, logs --------------------------------------------------------


def test_stage_traces_with_xray_and_has_no_cache(api_key_stack):
    assert_resource(
        api_key_stack,
        "aws_api_gateway_stage",
        {
            "stage_name": "prod",
            "xray_tracing_enabled": True,
            "cache_cluster_enabled": False,
            "variables": {"environment": "test", "log_level": "INFO"},
        },
    )


def test_method_settings_throttle_and_never_trace_data(api_key_stack):
    body = api_key_stack.one("aws_api_gateway_method_settings", method_path="*/*")
    assert body["settings"] == {
        "throttling_rate_limit": 10000,
        "throttling_burst_limit": 5000,
        "metrics_enabled": True,
        "logging_level": "INFO",
        "data_trace_enabled": False,
        "caching_enabled": False,
    }


def test_access_log_goes_to_an_encrypted_retained_log_group_as_json(api_key_stack):
    stage = api_key_stack.one("aws_api_gateway_stage")
    settings = stage["access_log_settings"]
    assert settings["destination_arn"] == ref(api_key_stack, "aws_cloudwatch_log_group", "/access_log_group", "arn")
    fields = json.loads(settings["format"])
    assert {
        "requestId",
        "ip",
        "caller",
        "apiKeyId",
        "httpMethod",
        "resourcePath",
        "status",
        "protocol",
        "responseLength",
        "integrationLatency",
        "xrayTraceId",
    } <= set(fields)
    assert not any("body" in v.lower() for v in fields.values())
    group = api_key_stack.by_path("/access_log_group")[1]
    assert group["retention_in_days"] == 30
    assert group["kms_key_id"].startswith("${aws_kms_key.")


def test_execution_log_group_is_precreated_encrypted(api_key_stack):
    group = api_key_stack.by_path("/execution_log_group")[1]
    rest_api_id = ref(api_key_stack, "aws_api_gateway_rest_api", "/rest_api", "id")
    assert group["name"] == f"API-Gateway-Execution-Logs_{rest_api_id}/prod"
    assert group["retention_in_days"] == 30 and group["kms_key_id"].startswith("${aws_kms_key.")
    stage = api_key_stack.one("aws_api_gateway_stage")
    assert (
        f"aws_cloudwatch_log_group.{api_key_stack.by_path('/execution_log_group')[1]['//']['metadata']['uniqueId']}"
        in stage["depends_on"]
    )


def test_owning_the_account_role_creates_the_singleton_and_orders_the_stage_after_it(api_key_stack):
    account = api_key_stack.one("aws_api_gateway_account")
    assert account["cloudwatch_role_arn"] == ref(api_key_stack, "aws_iam_role", "/role_api-gateway-cloudwatch", "arn")
    role = api_key_stack.by_path("/role_api-gateway-cloudwatch")[1]
    assert json.loads(role["assume_role_policy"])["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    account_address = "aws_api_gateway_account." + account["//"]["metadata"]["uniqueId"]
    assert account_address in api_key_stack.one("aws_api_gateway_stage")["depends_on"]
    for settings in api_key_stack.resources("aws_api_gateway_method_settings").values():
        assert account_address in settings["depends_on"]


def test_account_role_writes_only_api_gateway_log_groups(api_key_stack):
    statements = {s["Sid"]: s for s in api_key_stack.iam_statements("api-gateway-cloudwatch")}
    write = statements["WriteApiGatewayLogs"]
    assert all(
        ":log-group:API-Gateway-Execution-Logs_" in r or ":log-group:/aws/apigateway/payments-api-access-" in r
        for r in write["Resource"]
    )
    assert "logs:CreateLogGroup" not in write["Action"]
    assert statements["DescribeLogGroups"] == {
        "Sid": "DescribeLogGroups",
        "Effect": "Allow",
        "Action": ["logs:DescribeLogGroups"],
        "Resource": "*",
    }


def test_without_an_account_role_logging_is_off_and_nothing_claims_the_singleton(iam_stack):
    assert "aws_api_gateway_account" not in iam_stack.resource_types()
    for settings in iam_stack.resources("aws_api_gateway_method_settings").values():
        assert settings["settings"]["logging_level"] == "OFF"
    assert "access_log_settings" not in iam_stack.one("aws_api_gateway_stage")


# --- deployment --------------------------------------------------------------------------


def test_deployment_redeploys_on_change_and_is_replaced_before_destroy(api_key_stack):
    deployment = api_key_stack.one("aws_api_gateway_deployment")
    assert len(deployment["triggers"]["redeployment"]) == 64
    assert deployment["lifecycle"] == {"create_before_destroy": True}
    assert "stage_name" not in deployment
    assert api_key_stack.one("aws_api_gateway_stage")["deployment_id"] == ref(
        api_key_stack, "aws_api_gateway_deployment", "/deployment", "id"
    )


def test_deployment_depends_on_every_method_and_integration(api_key_stack):
    depends_on = set(api_key_stack.one("aws_api_gateway_deployment")["depends_on"])
    for resource_type in ("aws_api_gateway_method", "aws_api_gateway_integration", "aws_api_gateway_gateway_response"):
        for lid in api_key_stack.resources(resource_type):
            assert f"{resource_type}.{lid}" in depends_on


def test_redeployment_hash_changes_with_the_auth_mode(api_key_stack, iam_stack):
    assert (
        api_key_stack.one("aws_api_gateway_deployment")["triggers"]
        != iam_stack.one("aws_api_gateway_deployment")["triggers"]
    )


def test_redeployment_hash_is_a_pure_function_of_the_definition():
    from payments_platform.plugins.api.definition import (
        api_definition,
        load_create_transaction_schema,
        redeployment_hash,
    )
    from payments_platform.plugins.api.settings import ApiSettings

    names = {"transaction-processor": "transaction-processor-x", "status-checker": "status-checker-x"}
    schema = load_create_transaction_schema()
    first = redeployment_hash(api_definition(ApiSettings(), schema, names))
    assert first == redeployment_hash(api_definition(ApiSettings(), dict(reversed(list(schema.items()))), names))
    assert first != redeployment_hash(api_definition(ApiSettings(), {**schema, "maxProperties": 6}, names))


# --- published context and outputs -------------------------------------------------------


def test_outputs_invoke_url_key_ids_and_function_names(api_key_stack):
    outputs = api_key_stack.outputs()
    rest_api_id = ref(api_key_stack, "aws_api_gateway_rest_api", "/rest_api", "id")
    assert outputs["api_invoke_url"]["value"] == f"https://{rest_api_id}.execute-api.us-east-1.amazonaws.com/prod"
    assert len(outputs["api_key_ids"]["value"]) == 2
    assert outputs["transaction_processor_function_name"]["value"] == ref(
        api_key_stack, "aws_lambda_function", "/transaction_processor", "function_name"
    )
    assert outputs["status_checker_function_name"]["value"] == ref(
        api_key_stack, "aws_lambda_function", "/status_checker", "function_name"
    )


def test_rest_api_is_published_and_registered_for_monitoring(api_key_stack):
    from payments_platform.core import keys

    build = api_key_stack.built.build
    published, plugin = build.values[keys.REST_API.name]
    assert plugin == "api"
    assert published.name == "payments-api-test"
    assert [(a.key, a.api_name, a.stage_name) for a in build.monitoring.apis.all()] == [
        ("payments", "payments-api-test", "prod")
    ]
    functions = {f.key: (f.function_name, f.log_group_name) for f in build.monitoring.functions.all()}
    assert functions == {
        "transaction-processor": ("transaction-processor-test", "/aws/lambda/transaction-processor-test"),
        "status-checker": ("status-checker-test", "/aws/lambda/status-checker-test"),
        "transaction-reconciler": ("transaction-reconciler-test", "/aws/lambda/transaction-reconciler-test"),
        "card-fingerprint-rotator": ("card-fingerprint-rotator-test", "/aws/lambda/card-fingerprint-rotator-test"),
    }


def test_rest_api_is_regional_and_named_with_the_suffix(api_key_stack):
    assert strip(api_key_stack.one("aws_api_gateway_rest_api"))["name"] == "payments-api-test"
    assert api_key_stack.one("aws_api_gateway_rest_api")["endpoint_configuration"] == {"types": ["REGIONAL"]}
