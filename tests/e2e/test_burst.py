"""A burst against the running `local` deployment (issue #18, case 1): eight concurrent POSTs with one
Idempotency-Key make one transaction; every other answer is the replayed 201, a 409, or a retryable
429/503 with Retry-After -- never a 500. And what the gateway answers for a throttled function is the
deployed INTEGRATION_FAILURE response, read back from the emulator (no local special case)."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from e2e_support import LocalDeployment

from payments_platform.core.deployment_checks import http_request as request
from payments_platform.core.local.apigw.gateway import LocalGateway
from payments_platform.core.local.deployed_stack import DeployedStack
from payments_platform.core.local.lambdafn.service import FunctionThrottled
from payments_platform.plugins.api.local_checks import payment_body
from payments_platform.runtime.redaction import contains_card_data

pytestmark = pytest.mark.terraform

BURST = 8
RETRYABLE = {429, 503}


def post(deployment: LocalDeployment, key: str, body: bytes, idempotency_key: str):
    return request(
        "POST",
        f"{deployment.url}/transactions",
        body=body,
        headers={"Content-Type": "application/json", "x-api-key": key, "Idempotency-Key": idempotency_key},
    )


@pytest.fixture(scope="module")
def burst(deployment: LocalDeployment):
    key = sorted(deployment.record.api_keys.values())[0]
    body, idempotency_key = payment_body(f"e2e-burst-{uuid.uuid4().hex[:8]}"), str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return list(pool.map(lambda _: post(deployment, key, body, idempotency_key), range(BURST)))


def test_a_burst_never_gets_a_500(burst):
    assert sorted(r.status for r in burst if r.status >= 500 and r.status not in RETRYABLE) == []


def test_a_burst_of_one_key_makes_one_transaction(burst):
    created = {json.loads(r.body)["transaction_id"] for r in burst if r.status == 201}
    assert len(created) == 1, [(r.status, r.body[:200]) for r in burst]


def test_every_other_answer_is_a_replay_a_409_or_retryable_with_retry_after(burst):
    for response in burst:
        assert response.status in {201, 409, *RETRYABLE}, (response.status, response.body[:300])
        if response.status in RETRYABLE:
            assert int(response.headers["retry-after"]) >= 1
            assert json.loads(response.body)["error"]["code"] in ("rate_limited", "service_unavailable")
    originals = [r for r in burst if r.status == 201 and r.headers.get("idempotent-replayed") != "true"]
    assert len(originals) == 1


def test_local_reserves_enough_for_the_burst_so_lambda_throttles_none(burst):
    assert [r.status for r in burst if r.status == 503] == []


def test_no_burst_answer_holds_card_data(burst):
    assert not any(contains_card_data(r.body.decode(errors="replace")) for r in burst)


def test_a_throttled_function_is_answered_as_the_deployed_gateway_response_says(deployment: LocalDeployment):
    (api,) = DeployedStack(deployment.endpoint, deployment.record.region, deployment.stack_dir).apis()
    deployed = api.gateway_responses["INTEGRATION_FAILURE"]
    assert (deployed.status_code, deployed.headers["Retry-After"]) == (503, "1")

    async def throttled(name: str, payload: bytes, trace: str) -> bytes:
        raise FunctionThrottled(name)

    gateway = LocalGateway(api, throttled)
    key = sorted(deployment.record.api_keys.values())[0]
    sent: list[dict] = []

    async def call() -> None:
        body = payment_body("e2e-throttled")
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": f"/{api.stage}/transactions",
            "query_string": b"",
            "headers": [
                (b"x-api-key", key.encode()),
                (b"content-type", b"application/json"),
                (b"idempotency-key", b"e2e-throttled"),
            ],
            "client": ("127.0.0.1", 1),
        }
        await gateway(scope, receive, send)

    asyncio.run(call())
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    assert start["status"] == 503 and headers["retry-after"] == "1"
    assert body["error"]["code"] == "service_unavailable" and body["error"]["type"] == "api_error"
