"""Lambda's Invoke API beside the local gateway: results, function errors and throttles as Lambda answers them."""

from __future__ import annotations

import json

import pytest
from local_support import call

from payments_platform.core.local.lambdafn.invoke_api import invoke_api
from payments_platform.core.local.lambdafn.service import FunctionFailed, FunctionThrottled, FunctionTimedOut


class FakeService:
    functions = {"fn": object()}

    def __init__(self, outcome) -> None:
        self.outcome = outcome
        self.payloads: list[bytes] = []

    async def invoke(self, name: str, payload: bytes, *, trace_id: str) -> bytes:
        self.payloads.append(payload)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


def app(service):
    return lambda scope, receive, send: invoke_api(service, scope, receive, send)


def test_a_result_is_200_with_the_function_payload():
    service = FakeService(b'{"ok": true}')
    response = call(app(service), "POST", "/2015-03-31/functions/fn/invocations", body=b'{"n": 1}')
    assert (response.status, response.json()) == (200, {"ok": True})
    assert service.payloads == [b'{"n": 1}']


def test_a_function_arn_names_the_function():
    response = call(
        app(FakeService(b"{}")),
        "POST",
        "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fn/invocations",
    )
    assert response.status == 200


@pytest.mark.parametrize("failure", [FunctionFailed("ValueError: boom"), FunctionTimedOut("slow")])
def test_a_function_error_is_200_with_x_amz_function_error(failure):
    response = call(app(FakeService(failure)), "POST", "/2015-03-31/functions/fn/invocations", body=b"{}")
    assert response.status == 200 and response.headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(response.body)["errorMessage"]


def test_a_throttle_is_429_too_many_requests():
    response = call(app(FakeService(FunctionThrottled("busy"))), "POST", "/2015-03-31/functions/fn/invocations")
    assert (response.status, response.headers["x-amzn-errortype"]) == (429, "TooManyRequestsException")


def test_an_unknown_function_is_404():
    response = call(app(FakeService(b"{}")), "POST", "/2015-03-31/functions/nope/invocations")
    assert (response.status, response.headers["x-amzn-errortype"]) == (404, "ResourceNotFoundException")
