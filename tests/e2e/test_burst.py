"""Capacity on the running `local` deployment. A burst (issue #18, case 1): eight concurrent POSTs with one
Idempotency-Key make one transaction; every other answer is the replayed 201, a 409, or a retryable
429/503 with Retry-After -- never a 500. And what the gateway answers for a throttled function is the
deployed INTEGRATION_FAILURE response, read back from the emulator (no local special case).

Issue #30: a client sending one request after another (valid payments, replays, invalid bodies) never
meets a 429; a burst of 32 distinct keys gets 201s and retryable answers only; each client's usage plan
is its share of the method, so one client's flood leaves the other client its own."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from e2e_support import LocalDeployment

from payments_platform.core.deployment_checks import http_request as request
from payments_platform.core.local.apigw.gateway import LocalGateway
from payments_platform.core.local.deployed_stack import DeployedStack
from payments_platform.core.local.lambdafn.service import FunctionThrottled
from payments_platform.plugins.api.local_checks import payment_body, sequential_client
from payments_platform.runtime.redaction import contains_card_data

pytestmark = pytest.mark.terraform

BURST = 8
DISTINCT_BURST = 32
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


# --- issue #30: sequential clients, bursts of distinct keys, per-client limits ------------------------


def test_a_sequential_client_never_meets_a_429(deployment: LocalDeployment):
    # 20 × (a new payment, its immediate replay, 8 invalid bodies) over one keep-alive connection.
    answers = sequential_client(deployment.url, sorted(deployment.record.api_keys.values())[0])
    assert len(answers) == 200
    assert Counter(a.status for a in answers if a.kind == "invalid") == {400: 160}
    assert Counter(a.status for a in answers if a.kind != "invalid") == {201: 40}


def concurrently(*calls):
    """Run ``calls`` at once: every thread waits at one barrier, then sends."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def distinct_payments(deployment: LocalDeployment, key: str, count: int):
    return [
        lambda i=i: post(deployment, key, payment_body(f"e2e-distinct-{uuid.uuid4().hex[:8]}-{i}"), str(uuid.uuid4()))
        for i in range(count)
    ]


def assert_retryable_with_retry_after(responses):
    for response in responses:
        if response.status in RETRYABLE:
            assert int(response.headers["retry-after"]) >= 1, response.headers
            assert json.loads(response.body)["error"]["code"] in ("rate_limited", "service_unavailable")


# A payment taken: decided (201), or still with the connector when its authorization budget ran out
# (202 processing -- a burst of cold containers on a loaded two-core machine can take that long).
TAKEN = (201, 202)


def test_a_burst_of_32_distinct_keys_gets_201s_and_retryable_answers_only(deployment: LocalDeployment):
    key = sorted(deployment.record.api_keys.values())[0]
    responses = concurrently(*distinct_payments(deployment, key, DISTINCT_BURST))
    statuses = Counter(r.status for r in responses)
    assert set(statuses) <= {*TAKEN, *RETRYABLE}, statuses  # never a 500
    assert statuses[201] + statuses[202] >= 1, statuses
    assert_retryable_with_retry_after(responses)
    assert not any(contains_card_data(r.body.decode(errors="replace")) for r in responses)


def test_each_clients_deployed_usage_plan_is_half_of_the_method(deployment: LocalDeployment):
    (api,) = DeployedStack(deployment.endpoint, deployment.record.region, deployment.stack_dir).apis()
    method = api.throttle_for(api.methods[("/transactions", "POST")])
    assert len(api.api_keys) == 2
    for key in api.api_keys.values():
        assert key.throttle is not None
        assert (key.throttle.rate, key.throttle.burst) == (method.rate / 2, method.burst // 2)


def test_one_clients_flood_leaves_the_other_client_its_share(deployment: LocalDeployment):
    flooder, other = sorted(deployment.record.api_keys.values())
    # While one client sends 32 payments at once, the other sends 40 invalid bodies one after another on the
    # same method: its plan and the flooder's are each half the method's throttle, and a request its own
    # plan refuses spends none of the method's, so the other client never meets the method's 429.
    results = concurrently(
        *distinct_payments(deployment, flooder, DISTINCT_BURST),
        lambda: sequential_client(deployment.url, other, rounds=1, invalid_per_round=40, payments=False),
    )
    flood, others = results[:-1], results[-1]
    assert Counter(a.status for a in others) == {400: 40}
    assert set(Counter(r.status for r in flood)) <= {*TAKEN, *RETRYABLE}
    assert_retryable_with_retry_after(flood)
