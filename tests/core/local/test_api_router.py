"""The gateway serves every REST API the stack deploys, not just one: the first by name at /<stage> (the URL
`local up` prints), each at LocalStack's /restapis/<id>/<stage>/_user_request_/... form."""

from __future__ import annotations

from local_support import KEY_VALUE, RecordingInvoker, call, deployed_api

from payments_platform.core.local.apigw.api_router import ApiRouter
from payments_platform.core.local.apigw.deployed_api import Method
from payments_platform.core.local.apigw.gateway import LocalGateway

KEY = {"x-api-key": KEY_VALUE}


def two_apis() -> tuple[ApiRouter, RecordingInvoker]:
    invoker = RecordingInvoker()
    admin = deployed_api(
        id="adm001",
        name="admin-api-test",
        methods={("/health", "GET"): Method("/health", "GET", True, "NONE", "AWS_PROXY", function_name="admin")},
    )
    payments = deployed_api()  # payments-api-test, id abc123
    return ApiRouter([payments, admin], lambda api: LocalGateway(api, invoker)), invoker


def test_each_api_has_its_url_and_the_first_by_name_is_at_the_stage():
    router, _ = two_apis()
    assert router.urls("http://127.0.0.1:8080") == {
        "admin-api-test": "http://127.0.0.1:8080/prod",
        "payments-api-test": "http://127.0.0.1:8080/restapis/abc123/prod/_user_request_",
    }


def test_a_request_reaches_the_function_of_the_api_its_url_names():
    router, invoker = two_apis()
    assert call(router, "GET", "/prod/health", headers=KEY).status == 200
    second = call(router, "GET", "/restapis/abc123/prod/_user_request_/status", headers=KEY, query="transaction_id=t")
    assert second.status == 200
    assert [event["_function"] for event in invoker.events] == ["admin", "status"]
    assert invoker.events[1]["path"] == "/status"


def test_a_route_only_the_other_api_has_is_403_missing_authentication_token():
    router, invoker = two_apis()
    response = call(router, "GET", "/prod/status", headers=KEY, query="transaction_id=t")
    assert response.status == 403 and response.json()["error"]["code"] == "missing_authentication_token"
    assert invoker.events == []


def test_an_unknown_api_id_is_not_routed_to_another_api():
    router, invoker = two_apis()
    assert call(router, "GET", "/restapis/nope/prod/_user_request_/health", headers=KEY).status == 403
    assert invoker.events == []


def test_a_stack_without_a_rest_api_answers_404():
    assert call(ApiRouter([], lambda api: LocalGateway(api, RecordingInvoker())), "GET", "/prod/x").status == 404
