"""Capacity answers (issue #18): every method admits no more at once than its function serves, and what
is refused is retryable -- 429 THROTTLED or 503 INTEGRATION_FAILURE, both with Retry-After, both in the
platform's error shape."""

from __future__ import annotations

import json

import pytest
from api_support import API_KEY_SETTINGS, synth_api

from payments_platform.core.host.policy import iter_resources, method_capacities, warnings


def gateway_response(stack, response_type):
    return stack.one("aws_api_gateway_gateway_response", response_type=response_type)


def test_a_throttled_function_is_answered_503_with_retry_after(api_key_stack):
    response = gateway_response(api_key_stack, "INTEGRATION_FAILURE")
    assert response["status_code"] == "503"
    assert response["response_parameters"]["gatewayresponse.header.Retry-After"] == "'1'"


def test_the_503_is_in_the_platform_error_shape_with_code_service_unavailable(api_key_stack):
    template = gateway_response(api_key_stack, "INTEGRATION_FAILURE")["response_templates"]["application/json"]
    rendered = template.replace("$context.error.messageString", '"Internal server error"').replace(
        "$context.requestId", "r-1"
    )
    assert json.loads(rendered)["error"] == {
        "type": "api_error",
        "code": "service_unavailable",
        "message": "Internal server error",
        "request_id": "r-1",
    }


def test_api_gateways_own_429_keeps_its_status_and_gains_retry_after(api_key_stack):
    response = gateway_response(api_key_stack, "THROTTLED")
    assert "status_code" not in response  # API Gateway's 429
    assert response["response_parameters"]["gatewayresponse.header.Retry-After"] == "'1'"


def test_no_other_gateway_response_claims_to_be_retryable_later(api_key_stack):
    retry_after = {
        b["response_type"]
        for b in api_key_stack.resources("aws_api_gateway_gateway_response").values()
        if "gatewayresponse.header.Retry-After" in b["response_parameters"]
    }
    assert retry_after == {"THROTTLED", "INTEGRATION_FAILURE"}


@pytest.mark.parametrize("method_path", ["transactions/POST", "status/GET"])
def test_each_method_is_throttled_from_its_functions_reserved_concurrency(api_key_stack, method_path):
    settings = api_key_stack.one("aws_api_gateway_method_settings", method_path=method_path)["settings"]
    # reserved concurrency 7, timeout 10 s: bursts of 7, 7 ÷ 10 s = 0.7 rps (Little's law at the timeout).
    assert (settings["throttling_burst_limit"], settings["throttling_rate_limit"]) == (7, 0.7)
    assert settings["data_trace_enabled"] is False and settings["metrics_enabled"] is True


def test_the_stage_wide_seed_throttle_stays(api_key_stack):
    settings = api_key_stack.one("aws_api_gateway_method_settings", method_path="*/*")["settings"]
    assert (settings["throttling_rate_limit"], settings["throttling_burst_limit"]) == (10000, 5000)


def test_the_synthesized_api_is_capacity_coherent(api_key_stack):
    capacities = method_capacities(iter_resources(api_key_stack.config))
    assert [(c.route, c.admitted_burst, c.reserved_concurrency) for c in capacities] == [
        ("GET /status", 7, 7),
        ("POST /transactions", 7, 7),
    ]
    assert warnings(api_key_stack.config) == []


def test_a_higher_method_rate_is_admitted_and_reported_with_its_numbers():
    stack = synth_api({**API_KEY_SETTINGS, "method_throttle_rate": 50})
    found = [w for w in warnings(stack.config) if "POST /transactions" in w]
    assert found == [
        next(w for w in found)  # one line, with every number in it
    ]
    assert "admits 50 rps, bursts of 7 (method throttle)" in found[0]
    assert "serves 7 at once and 0.7 rps when every call runs to its 10 s timeout" in found[0]
