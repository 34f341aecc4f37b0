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


@pytest.mark.parametrize(
    ("method_path", "rate"),
    # Little's law: reserved concurrency 7 ÷ planned p99 (250 ms, 100 ms) -- not ÷ the 10 s timeout.
    [("transactions/POST", 28.0), ("status/GET", 70.0)],
)
def test_each_method_admits_its_functions_reserved_concurrency_over_its_planned_p99(api_key_stack, method_path, rate):
    settings = api_key_stack.one("aws_api_gateway_method_settings", method_path=method_path)["settings"]
    assert (settings["throttling_burst_limit"], settings["throttling_rate_limit"]) == (7, rate)
    assert settings["data_trace_enabled"] is False and settings["metrics_enabled"] is True


def test_each_function_carries_its_planned_p99_and_where_it_comes_from(api_key_stack):
    tags = api_key_stack.one("aws_lambda_function", function_name="transaction-processor-test")["tags"]
    assert (tags["planned-p99-ms"], tags["planned-p99-source"]) == ("250", "test: BENCHMARKS.md")


def test_the_stage_wide_seed_throttle_stays(api_key_stack):
    settings = api_key_stack.one("aws_api_gateway_method_settings", method_path="*/*")["settings"]
    assert (settings["throttling_rate_limit"], settings["throttling_burst_limit"]) == (10000, 5000)


def test_each_client_gets_half_of_the_tightest_method(api_key_stack):
    # Two clients: half of POST's 28 rps and of its burst of 7 (rounded down), so either client alone
    # leaves the other its half.
    assert api_key_stack.one("aws_api_gateway_usage_plan")["throttle_settings"] == {
        "rate_limit": 14.0,
        "burst_limit": 3,
    }


def test_the_synthesized_api_is_capacity_coherent(api_key_stack):
    capacities = method_capacities(iter_resources(api_key_stack.config))
    # GET /status: its method throttle is 70 rps, bursts of 7, but the two clients' plans (each half of
    # the tightest method) let 2 × 14 rps, bursts of 2 × 3 through.
    assert [
        (c.route, c.admitted_rate, c.admitted_burst, c.reserved_concurrency, c.served_rate) for c in capacities
    ] == [
        ("GET /status", 28.0, 6, 7, 70.0),
        ("POST /transactions", 28.0, 7, 7, 28.0),
    ]
    assert warnings(api_key_stack.config) == []


def test_a_function_without_a_planned_p99_is_planned_at_its_timeout_and_synth_says_so():
    stack = synth_api({k: v for k, v in API_KEY_SETTINGS.items() if k != "service_time"})
    settings = stack.one("aws_api_gateway_method_settings", method_path="transactions/POST")["settings"]
    assert settings["throttling_rate_limit"] == 0.7
    found = [w for w in warnings(stack.config) if "POST /transactions" in w]
    assert len(found) == 1
    assert "states no planned p99 (tag planned-p99-ms), so it is planned at its 10 s timeout, 0.7 rps" in found[0]


def test_a_higher_method_rate_is_admitted_and_reported_with_what_to_change():
    stack = synth_api({**API_KEY_SETTINGS, "method_throttle_rate": 50})
    found = [w for w in warnings(stack.config) if "POST /transactions" in w]
    assert len(found) == 1  # one line, with every number in it
    assert "admits 50 rps, bursts of 7 (method throttle)" in found[0]
    assert "serves 7 at once and 28 rps at its planned p99 of 250 ms (7 ÷ 0.25 s)" in found[0]
    assert "reserve 13 concurrent executions to serve 50 rps, or throttle the method at 28 rps" in found[0]


def test_one_client_allowed_the_whole_method_is_reported():
    stack = synth_api({**API_KEY_SETTINGS, "client_share": 1.0})
    found = [w for w in warnings(stack.config) if "one client" in w]
    assert len(found) == 2  # both methods
    assert "one client can take the other 1 client(s)' capacity; give each a share, at most 14 rps" in found[1]


PEAK_SETTINGS = {k: v for k, v in {**API_KEY_SETTINGS, "peak_rps": 10000}.items() if k != "reserved_concurrency"}


def test_a_peak_reserves_peak_times_planned_p99_per_function_and_admits_the_peak():
    stack = synth_api(PEAK_SETTINGS)
    reserved = {
        body["function_name"]: body["reserved_concurrent_executions"]
        for body in stack.resources("aws_lambda_function").values()
    }
    # ⌈10,000 rps × 0.25 s⌉ and ⌈10,000 rps × 0.1 s⌉; the reconciler and the key rotator keep 1.
    assert reserved["transaction-processor-test"] == 2500 and reserved["status-checker-test"] == 1000
    capacities = method_capacities(iter_resources(stack.config))
    assert [(c.route, c.method_throttle.rate, c.method_throttle.burst) for c in capacities] == [
        ("GET /status", 10000.0, 1000),
        ("POST /transactions", 10000.0, 2500),
    ]
    assert stack.one("aws_api_gateway_usage_plan")["throttle_settings"] == {"rate_limit": 5000.0, "burst_limit": 500}


def test_more_than_the_default_lambda_quota_is_said_in_one_line_with_the_figure():
    found = warnings(synth_api(PEAK_SETTINGS).config)
    assert len(found) == 1 and "\n" not in found[0]
    # 2,500 + 1,000 + 1 + 1 reserved, and the 100 AWS keeps unreserved.
    assert "'Lambda concurrent executions' quota of 3,602 in us-east-1" in found[0]
    assert "quota code L-B99A9384" in found[0]
