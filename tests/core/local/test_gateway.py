"""The local gateway answers as the deployed REST API would (a deployed API made by hand here;
read_deployed_api's reading of a real deployment is covered in tests/e2e)."""

from __future__ import annotations

import base64
import json

import pytest
from local_support import KEY_VALUE, OTHER_KEY_VALUE, RecordingInvoker, call, deployed_api

from payments_platform.core.local.apigw.deployed_api import Throttle
from payments_platform.core.local.apigw.gateway import MAX_PAYLOAD_BYTES, LocalGateway, TokenBucket, render_template
from payments_platform.core.local.lambdafn.service import FunctionFailed, FunctionThrottled, FunctionTimedOut

PAN = "4242424242424242"
GOOD = json.dumps({"amount": 5, "card": {"number": PAN}}).encode()
JSON_HEADERS = {"x-api-key": KEY_VALUE, "content-type": "application/json"}


def gateway(invoker: RecordingInvoker | None = None, **api_changes) -> tuple[LocalGateway, RecordingInvoker]:
    invoker = invoker or RecordingInvoker()
    return LocalGateway(deployed_api(**api_changes), invoker), invoker


def error_code(response) -> str:
    return response.json()["error"]["code"]


# --------------------------------------------------------------------------- routing and keys


@pytest.mark.parametrize("path", ["/prod/nowhere", "/other-stage/transactions", "/transactions", "/prod"])
def test_unknown_route_is_403_missing_authentication_token(path):
    app, invoker = gateway()
    response = call(app, "POST", path, headers=JSON_HEADERS, body=GOOD)
    assert (response.status, error_code(response)) == (403, "missing_authentication_token")
    assert response.json()["error"]["message"] == "Missing Authentication Token"
    assert invoker.events == []


def test_unknown_method_on_a_known_resource_is_403():
    app, _ = gateway()
    assert call(app, "DELETE", "/prod/transactions", headers=JSON_HEADERS).status == 403


@pytest.mark.parametrize("key", [None, "", "not-a-key"])
def test_missing_or_wrong_api_key_is_403_invalid_api_key(key):
    app, invoker = gateway()
    headers = {"content-type": "application/json", **({"x-api-key": key} if key is not None else {})}
    response = call(app, "POST", "/prod/transactions", headers=headers, body=GOOD)
    assert (response.status, error_code(response)) == (403, "invalid_api_key")
    assert response.headers["access-control-allow-origin"] == "*"  # the deployed gateway response's headers
    assert invoker.events == []


def test_a_key_outside_the_stage_usage_plans_is_refused():
    app, _ = gateway(api_keys={})
    assert call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=GOOD).status == 403


def test_gateway_error_body_renders_the_deployed_template_with_the_request_id():
    app, _ = gateway()
    response = call(app, "GET", "/prod/nowhere")
    error = response.json()["error"]
    assert error["request_id"] == response.headers["x-amzn-requestid"]
    assert error["type"] == "x"  # from the deployed template, not a built-in one


# --------------------------------------------------------------------------- the proxy event


def test_proxy_event_is_the_rest_v1_payload():
    app, invoker = gateway()
    call(
        app, "POST", "/prod/transactions", headers={**JSON_HEADERS, "user-agent": "t/1"}, body=GOOD, query="a=1&a=2&b=3"
    )
    (event,) = invoker.events
    assert event["_function"] == "processor"
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/transactions", "/transactions", "POST")
    assert event["queryStringParameters"] == {"a": "2", "b": "3"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}
    assert event["headers"]["x-api-key"] == KEY_VALUE and event["multiValueHeaders"]["user-agent"] == ["t/1"]
    assert event["stageVariables"] == {"environment": "test"}
    assert event["pathParameters"] is None
    assert event["body"] == GOOD.decode() and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert (context["stage"], context["resourcePath"], context["apiId"], context["path"]) == (
        "prod",
        "/transactions",
        "abc123",
        "/prod/transactions",
    )
    assert context["identity"]["apiKeyId"] == "key1" and context["identity"]["apiKey"] == KEY_VALUE
    assert context["identity"]["sourceIp"] == "127.0.0.9"
    assert isinstance(context["requestTimeEpoch"], int) and context["requestId"]
    assert event["headers"]["X-Amzn-Trace-Id"].startswith("Root=1-")  # the stage traces with X-Ray


def test_a_body_that_is_not_utf8_reaches_the_function_base64_encoded():
    app, invoker = gateway()
    call(
        app,
        "POST",
        "/prod/transactions",
        headers={"x-api-key": KEY_VALUE, "content-type": "application/octet-stream"},
        body=b"\xff\xfe",
    )
    assert invoker.events[0]["isBase64Encoded"] is True
    assert base64.b64decode(invoker.events[0]["body"]) == b"\xff\xfe"


def test_function_response_headers_status_and_body_reach_the_client():
    answer = {
        "statusCode": 201,
        "headers": {"X-One": "1"},
        "multiValueHeaders": {"Set-Thing": ["a", "b"]},
        "body": '{"ok":true}',
    }
    app, _ = gateway(RecordingInvoker(lambda event: answer))
    response = call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=GOOD)
    assert (response.status, response.json(), response.headers["x-one"]) == (201, {"ok": True}, "1")


def test_base64_function_body_is_decoded():
    answer = {"statusCode": 200, "body": base64.b64encode(b"raw").decode(), "isBase64Encoded": True}
    app, _ = gateway(RecordingInvoker(lambda event: answer))
    assert call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=GOOD).body == b"raw"


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        json.dumps({"amount": "five", "card": {"number": PAN}}).encode(),
        json.dumps({"card": {}}).encode(),
        json.dumps({"amount": 1, "extra": PAN}).encode(),
    ],
)
def test_body_the_model_rejects_is_400_invalid_body_without_echoing_it(body):
    app, invoker = gateway()
    response = call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=body)
    assert (response.status, error_code(response)) == (400, "bad_request_body")
    assert response.json()["error"]["message"] == "Invalid request body"
    assert PAN not in response.body.decode()
    assert invoker.events == []


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_a_body_nested_deeper_than_the_parser_goes_is_400_invalid_body(depth):
    app, invoker = gateway()
    response = call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=b"[" * depth + b"]" * depth)
    assert (response.status, error_code(response)) == (400, "bad_request_body")
    assert response.json()["error"]["message"] == "Invalid request body"
    assert invoker.events == []


def test_a_body_the_parser_reads_but_a_recursive_model_cannot_descend_is_400_invalid_body():
    # A model that refers to itself descends as deep as the body: jsonschema runs out of stack first.
    recursive = {"type": "object", "properties": {"next": {"$ref": "#"}}}
    app, invoker = gateway(models={"Create": recursive})
    depth = 900  # within json.loads' reach, beyond the validator's
    body = b'{"next":' * depth + b"{}" + b"}" * depth
    response = call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=body)
    assert (response.status, error_code(response)) == (400, "bad_request_body")
    assert invoker.events == []


def test_body_of_another_media_type_is_not_validated():
    app, invoker = gateway()
    call(app, "POST", "/prod/transactions", headers={"x-api-key": KEY_VALUE, "content-type": "text/plain"}, body=b"hi")
    assert len(invoker.events) == 1


def test_missing_required_query_parameter_is_400():
    app, invoker = gateway()
    response = call(app, "GET", "/prod/status", headers={"x-api-key": KEY_VALUE})
    assert (response.status, error_code(response)) == (400, "bad_request_parameters")
    assert response.json()["error"]["message"] == "Missing required request parameters: [transaction_id]"
    call(app, "GET", "/prod/status", headers={"x-api-key": KEY_VALUE}, query="transaction_id=t1")
    assert invoker.events[0]["queryStringParameters"] == {"transaction_id": "t1"}


def test_oversized_body_is_413_before_the_function():
    app, invoker = gateway()
    response = call(
        app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=b"x" * (MAX_PAYLOAD_BYTES + 1), chunk=1024 * 1024
    )
    assert (response.status, error_code(response)) == (413, "request_too_large")
    assert invoker.events == []


# --------------------------------------------------------------------------- CORS


def test_preflight_answers_the_deployed_mock_integration_without_a_key():
    app, invoker = gateway()
    response = call(
        app, "OPTIONS", "/prod/transactions", headers={"origin": "https://x", "access-control-request-method": "POST"}
    )
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "POST,OPTIONS"
    assert invoker.events == []


# --------------------------------------------------------------------------- throttling


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_the_burst_then_the_rate():
    clock = Clock()
    bucket = TokenBucket(Throttle(rate=2.0, burst=3), clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token back at 2 per second
    assert [bucket.take(), bucket.take()] == [True, False]


def test_stage_throttle_answers_429_throttled():
    clock = Clock()
    app = LocalGateway(deployed_api(stage_throttle=Throttle(1.0, 2)), RecordingInvoker(), clock=clock)
    statuses = [call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=GOOD).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=GOOD)
    assert error_code(response) == "throttled" and response.json()["error"]["message"] == "Too Many Requests"
    clock.now += 1.0
    assert call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=GOOD).status == 200


def test_usage_plan_throttle_is_per_key():
    from payments_platform.core.local.apigw.deployed_api import ApiKey

    keys = {
        KEY_VALUE: ApiKey("key1", "one", KEY_VALUE, Throttle(1.0, 1)),
        OTHER_KEY_VALUE: ApiKey("key2", "two", OTHER_KEY_VALUE, None),
    }
    app = LocalGateway(deployed_api(api_keys=keys), RecordingInvoker(), clock=Clock())
    first = [call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=GOOD).status for _ in range(2)]
    other = call(app, "POST", "/prod/transactions", headers={**JSON_HEADERS, "x-api-key": OTHER_KEY_VALUE}, body=GOOD)
    assert first == [200, 429] and other.status == 200


def test_a_request_its_clients_plan_refuses_spends_none_of_the_methods_throttle():
    from payments_platform.core.local.apigw.deployed_api import ApiKey

    # Each client half of the method (burst 2 of 4): however many requests one sends, the other still gets
    # its two, because the client's plan is applied before the method's throttle (API Gateway's order).
    keys = {
        KEY_VALUE: ApiKey("key1", "one", KEY_VALUE, Throttle(1.0, 2)),
        OTHER_KEY_VALUE: ApiKey("key2", "two", OTHER_KEY_VALUE, Throttle(1.0, 2)),
    }
    app = LocalGateway(deployed_api(api_keys=keys, stage_throttle=Throttle(2.0, 4)), RecordingInvoker(), clock=Clock())
    flood = [call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=GOOD).status for _ in range(10)]
    other_headers = {**JSON_HEADERS, "x-api-key": OTHER_KEY_VALUE}
    other = [call(app, "POST", "/prod/transactions", headers=other_headers, body=GOOD).status for _ in range(2)]
    assert flood == [200, 200] + [429] * 8 and other == [200, 200]


# --------------------------------------------------------------------------- function failures


@pytest.mark.parametrize(
    "answer",
    [
        b"not json",
        {"statusCode": "201"},
        {"statusCode": 201, "body": {"a": 1}},
        {"body": "x"},
        {"statusCode": 200, "unexpected": 1},
        {"statusCode": 200, "headers": {"a": ["b"]}},
        [1, 2],
    ],
    ids=["not-json", "status-string", "body-object", "no-status", "extra-key", "header-list", "not-an-object"],
)
def test_malformed_function_response_is_502_in_the_platform_error_shape(answer):
    app, _ = gateway(RecordingInvoker(lambda event: answer))
    response = call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=GOOD)
    assert response.status == 502
    assert response.json()["error"] == {
        "type": "x",
        "code": "default_5xx",
        "message": "Internal server error",
        "request_id": response.headers["x-amzn-requestid"],
    }


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (FunctionFailed("Exception: boom"), 502, "default_5xx"),
        (FunctionTimedOut("slow"), 504, "integration_timeout"),
        (FunctionThrottled("busy"), 500, "integration_failure"),
    ],
)
def test_function_failures_answer_as_api_gateway_does(failure, status, code):
    app, _ = gateway(RecordingInvoker(lambda event: failure))
    response = call(app, "POST", "/prod/transactions", headers=JSON_HEADERS, body=GOOD)
    assert (response.status, error_code(response)) == (status, code)
    assert "boom" not in response.body.decode()  # the function's error stays in its logs


def test_render_template_fills_context_and_stage_variables_and_blanks_unknown_ones():
    rendered = render_template(
        '{"m":$context.error.messageString,"r":"$context.requestId","s":"$stageVariables.environment","u":"$context.nope"}',
        {"error.messageString": '"Forbidden"', "requestId": "r-1"},
        {"environment": "local"},
    )
    assert json.loads(rendered) == {"m": "Forbidden", "r": "r-1", "s": "local", "u": ""}
