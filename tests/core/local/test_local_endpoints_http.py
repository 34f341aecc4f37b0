"""The gateway process's port over real HTTP (uvicorn on loopback, the app ``server.serve`` runs):
the Invoke API runs only requests a boto3 Lambda client signs with a key of the deployment, never a
browser's; a body nested past the parser is the API's 400, and the gateway keeps serving.
(Issue 26, item 5: the local findings.)"""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError
from local_support import KEY_VALUE, RecordingInvoker, deployed_api

from payments_platform.core.local.apigw.gateway import LocalGateway
from payments_platform.core.local.apigw.server import gateway_app, server_config
from payments_platform.core.local.processes import ADMIN_CREDENTIALS

REGION = "eu-west-1"
FUNCTION = "payments-test-processor"
FUNCTION_KEY = {"AWS_ACCESS_KEY_ID": "AKIALOCALFUNCTION", "AWS_SECRET_ACCESS_KEY": "function-secret"}
EVENT = {"requestContext": {"identity": {"apiKeyId": "another-tenant"}}}


@dataclass
class RecordingService:
    """Plays LambdaService for the Invoke API: records what ran."""

    functions: dict[str, Any] = field(default_factory=lambda: {FUNCTION: object()})
    payloads: list[bytes] = field(default_factory=list)

    async def invoke(self, name: str, payload: bytes, *, trace_id: str) -> bytes:
        self.payloads.append(payload)
        return b'{"ran": true}'


@dataclass
class Served:
    url: str
    service: RecordingService
    invoker: RecordingInvoker

    def lambda_client(self, key: str, secret: str) -> Any:
        return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION).client(
            "lambda", endpoint_url=self.url, config=Config(retries={"max_attempts": 1})
        )


async def no_runtime_api(scope, receive, send) -> None:
    raise AssertionError("only the gateway's port is served here")


@pytest.fixture
def served() -> Iterator[Served]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    service, invoker = RecordingService(), RecordingInvoker()
    app = gateway_app(
        gateway_port=port,
        runtime_api=no_runtime_api,
        service=service,  # type: ignore[arg-type]
        apis=LocalGateway(deployed_api(), invoker),
        credentials={FUNCTION: FUNCTION_KEY},
        region=REGION,
    )
    server = uvicorn.Server(server_config(app, []))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.01)
    yield Served(f"http://127.0.0.1:{port}", service, invoker)
    server.should_exit = True
    thread.join(10)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def refusal(client: Any) -> tuple[int, str]:
    """The HTTP status and Lambda error type a boto3 client's Invoke met (it must fail)."""
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=FUNCTION, Payload=json.dumps(EVENT))
    return raised.value.response["ResponseMetadata"]["HTTPStatusCode"], raised.value.response["Error"]["Code"]


def invocations(function: str = FUNCTION) -> str:
    return f"/2015-03-31/functions/{function}/invocations"


# --------------------------------------------------------------------------- the Invoke API


def test_an_unsigned_invoke_over_http_is_403_and_the_function_never_runs(served):
    status, headers, body = post(served.url + invocations(), json.dumps(EVENT).encode(), {})
    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationTokenException")
    assert json.loads(body)["message"] == "Missing Authentication Token"
    assert served.service.payloads == []


def test_an_invoke_signed_with_the_wrong_secret_over_http_is_403_and_the_function_never_runs(served):
    client = served.lambda_client(ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"], "a-guess")
    assert refusal(client) == (403, "InvalidSignatureException")
    assert served.service.payloads == []


def test_an_invoke_signed_with_a_key_nobody_handed_out_over_http_is_403(served):
    assert refusal(served.lambda_client("AKIANOBODY", "x")) == (403, "UnrecognizedClientException")
    assert served.service.payloads == []


def test_a_signed_invoke_from_a_browser_over_http_is_403_and_the_function_never_runs(served):
    client = served.lambda_client(ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"], ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def from_a_page(request: Any, **_: Any) -> None:
        request.headers["Origin"] = "https://attacker.example"

    client.meta.events.register("before-sign.lambda.Invoke", from_a_page)  # signed, and still refused
    assert refusal(client) == (403, "AccessDeniedException")
    assert served.service.payloads == []


def test_a_cors_preflight_over_http_is_403_without_cors_headers(served):
    request = urllib.request.Request(
        served.url + invocations(),
        method="OPTIONS",
        headers={"Origin": "https://attacker.example", "Access-Control-Request-Method": "POST"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 403
    assert not [name for name in raised.value.headers if name.lower().startswith("access-control-")]
    assert served.service.payloads == []


@pytest.mark.parametrize("identity", ["administrator", "function"])
def test_a_signed_invoke_over_http_runs_the_function(served, identity):
    credentials = ADMIN_CREDENTIALS if identity == "administrator" else FUNCTION_KEY
    client = served.lambda_client(credentials["AWS_ACCESS_KEY_ID"], credentials["AWS_SECRET_ACCESS_KEY"])
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}"  # botocore quotes the ':' it signs
    for name in (FUNCTION, arn):
        response = client.invoke(FunctionName=name, Payload=json.dumps(EVENT))
        assert response["StatusCode"] == 200 and "FunctionError" not in response
        assert json.loads(response["Payload"].read()) == {"ran": True}
    assert served.service.payloads == [json.dumps(EVENT).encode()] * 2


# --------------------------------------------------------------------------- the API


def test_a_body_nested_100000_deep_over_http_is_400_invalid_body_and_the_gateway_keeps_serving(served):
    headers = {"x-api-key": KEY_VALUE, "content-type": "application/json"}
    status, _, body = post(served.url + "/prod/transactions", b"[" * 100_000 + b"]" * 100_000, headers)
    assert status == 400
    assert json.loads(body)["error"] == {
        "type": "x",
        "code": "bad_request_body",
        "message": "Invalid request body",
        "request_id": json.loads(body)["error"]["request_id"],
    }
    assert served.invoker.events == []
    status, _, _ = post(served.url + "/prod/transactions", json.dumps({"amount": 5}).encode(), headers)
    assert status == 200
    assert len(served.invoker.events) == 1
