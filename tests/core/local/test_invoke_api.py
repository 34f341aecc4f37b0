"""Lambda's Invoke API beside the local gateway: results, function errors and throttles as Lambda answers them,
to SigV4-signed requests by the deployment's keys only (invoke_auth.py; over real HTTP in
test_local_endpoints_http.py)."""

from __future__ import annotations

import datetime
import json

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from local_support import call

from payments_platform.core.local.lambdafn.invoke_api import invoke_api
from payments_platform.core.local.lambdafn.invoke_auth import InvokeRefused, authenticate
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


REGION = "eu-west-1"
KEYS = {"emulator": "emulator", "AKIAFUNCTION": "function-secret"}
HOST = "127.0.0.1:8080"  # local_support.call's server address


def app(service):
    return lambda scope, receive, send: invoke_api(service, scope, receive, send, keys=KEYS, region=REGION)


def signed(
    path: str, body: bytes = b"", *, key: str = "emulator", secret: str = "emulator", region: str = REGION
) -> dict[str, str]:
    """The headers botocore's signer gives a POST of ``body`` to ``path`` (as a boto3 Lambda client)."""
    request = AWSRequest(method="POST", url=f"http://{HOST}{path}", data=body)
    SigV4Auth(Credentials(key, secret), "lambda", region).add_auth(request)
    return {"host": HOST, **dict(request.headers.items())}


def post(service, path: str, body: bytes = b"", **headers_changes):
    return call(app(service), "POST", path, headers={**signed(path, body), **headers_changes}, body=body)


def test_a_result_is_200_with_the_function_payload():
    service = FakeService(b'{"ok": true}')
    response = post(service, "/2015-03-31/functions/fn/invocations", b'{"n": 1}')
    assert (response.status, response.json()) == (200, {"ok": True})
    assert service.payloads == [b'{"n": 1}']


def test_a_function_arn_names_the_function():
    response = post(
        FakeService(b"{}"), "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fn/invocations"
    )
    assert response.status == 200


@pytest.mark.parametrize("failure", [FunctionFailed("ValueError: boom"), FunctionTimedOut("slow")])
def test_a_function_error_is_200_with_x_amz_function_error(failure):
    response = post(FakeService(failure), "/2015-03-31/functions/fn/invocations", b"{}")
    assert response.status == 200 and response.headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(response.body)["errorMessage"]


def test_a_throttle_is_429_too_many_requests():
    response = post(FakeService(FunctionThrottled("busy")), "/2015-03-31/functions/fn/invocations")
    assert (response.status, response.headers["x-amzn-errortype"]) == (429, "TooManyRequestsException")


def test_an_unknown_function_is_404():
    response = post(FakeService(b"{}"), "/2015-03-31/functions/nope/invocations")
    assert (response.status, response.headers["x-amzn-errortype"]) == (404, "ResourceNotFoundException")


# --------------------------------------------------------------------------- who may invoke

PATH = "/2015-03-31/functions/fn/invocations"
BODY = b'{"tenant": "someone-else"}'


def refused(response, status: int, error_type: str, service: FakeService) -> bool:
    return (
        (response.status, response.headers["x-amzn-errortype"]) == (status, error_type)
        and "message" in response.json()
        and service.payloads == []  # the function never ran
    )


def test_an_unsigned_invoke_is_403_missing_authentication_token_and_the_function_never_runs():
    service = FakeService(b"{}")
    response = call(app(service), "POST", PATH, headers={"host": HOST}, body=BODY)
    assert refused(response, 403, "MissingAuthenticationTokenException", service)


def test_an_unsigned_invoke_of_an_unknown_function_does_not_say_it_is_unknown():
    service = FakeService(b"{}")
    response = call(app(service), "POST", "/2015-03-31/functions/nope/invocations", headers={"host": HOST})
    assert refused(response, 403, "MissingAuthenticationTokenException", service)


@pytest.mark.parametrize(
    ("signed_path", "signed_body", "changes"),
    [
        (PATH, BODY, {"secret": "not-the-secret"}),  # a guessed secret
        (PATH, b'{"tenant": "mine"}', {}),  # the body changed after signing
        ("/2015-03-31/functions/other/invocations", BODY, {}),  # signed for another function
        (PATH, BODY, {"region": "us-east-1"}),  # scoped to another region
    ],
    ids=["wrong-secret", "changed-body", "other-function", "other-region"],
)
def test_a_signature_that_does_not_match_the_request_is_403_invalid_signature(signed_path, signed_body, changes):
    service = FakeService(b"{}")
    headers = signed(signed_path, signed_body, **changes)
    response = call(app(service), "POST", PATH, headers=headers, body=BODY)
    assert refused(response, 403, "InvalidSignatureException", service)


def test_an_invoke_signed_with_a_key_the_deployment_never_handed_out_is_403_unrecognized_client():
    service = FakeService(b"{}")
    headers = signed(PATH, BODY, key="AKIASTRANGER", secret="x")
    response = call(app(service), "POST", PATH, headers=headers, body=BODY)
    assert refused(response, 403, "UnrecognizedClientException", service)


def test_a_function_identity_key_may_invoke():
    service = FakeService(b"{}")
    headers = signed(PATH, BODY, key="AKIAFUNCTION", secret="function-secret")
    assert call(app(service), "POST", PATH, headers=headers, body=BODY).status == 200
    assert service.payloads == [BODY]


def test_a_signature_replayed_after_fifteen_minutes_is_refused():
    headers = signed(PATH, BODY)
    scope = {
        "method": "POST",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    assert authenticate(scope, BODY, keys=KEYS, region=REGION) == "emulator"
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=16)
    with pytest.raises(InvokeRefused, match="Signature expired"):
        authenticate(scope, BODY, keys=KEYS, region=REGION, now=later)


@pytest.mark.parametrize(
    "browser_header",
    [{"origin": "https://evil.example"}, {"origin": "null"}, {"sec-fetch-site": "cross-site"}],
)
def test_a_browser_request_is_403_even_when_signed(browser_header):
    service = FakeService(b"{}")
    response = post(service, PATH, BODY, **browser_header)
    assert refused(response, 403, "AccessDeniedException", service)


def test_a_cors_preflight_is_403_and_grants_nothing():
    service = FakeService(b"{}")
    response = call(
        app(service),
        "OPTIONS",
        PATH,
        headers={"host": HOST, "origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert refused(response, 403, "AccessDeniedException", service)
    assert not any(name.startswith("access-control-") for name in response.headers)
