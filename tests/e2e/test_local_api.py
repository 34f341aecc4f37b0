"""End to end over HTTP: a payment through the local gateway, run by the deployed functions.

The checks are `payments-platform local smoke`'s own (the api plugin's, plugins/api/local_checks.py), one test each, in
its order; more follow that the smoke run does not make (tenant isolation, 422, the deployed
package, the event shape the gateway built).
"""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path

import pytest
from e2e_support import REGION, LocalDeployment

from payments_platform.core.deployment_checks import http_request as request
from payments_platform.core.local.api_hooks import local_deployment
from payments_platform.core.local.lambdafn.deployed_functions import code_sha256
from payments_platform.core.local.processes import emulator_client
from payments_platform.plugins.api.local_checks import PaymentSmoke, payment_body
from payments_platform.runtime.redaction import contains_card_data

pytestmark = pytest.mark.terraform

# What a transaction item may hold (docs/RUNTIME.md): no PAN, no CVC, no expiry date.
TRANSACTION_ITEM_ATTRIBUTES = {
    "transaction_id",
    "timestamp",
    "record_type",
    "client_id",
    "status",
    "amount",
    "currency",
    "merchant_reference",
    "card_brand",
    "card_last4",
    "card_fingerprint",
    "card_fingerprint_key_version",
    "created_at",
    "idempotency_record_id",
    "description",
    "metadata",
    # Where a payment connector is enabled (docs/RUNTIME.md "Lifecycle"):
    "status_changed_at",
    "decline_code",
    "acquirer_reference",
}


@pytest.fixture(scope="module")
def smoke(deployment: LocalDeployment):
    checks = PaymentSmoke(local_deployment(deployment.run.run_dir, deployment.record))
    checks.subscribe_to_events()
    yield checks
    checks.cleanup_subscription()


SMOKE_STEPS = [
    "post_payment",
    "replay",
    "status",
    "no_key",
    "invalid_body",
    "preflight",
    "stored_item",
    "audit_message",
    "payment_event",
    "function_logs",
]


@pytest.mark.parametrize("step", SMOKE_STEPS)
def test_smoke_step(smoke: PaymentSmoke, step: str):
    if step != "post_payment" and not smoke.transaction:
        pytest.skip("POST /transactions failed")
    getattr(smoke, step)()


def keys(deployment: LocalDeployment) -> list[str]:
    return sorted(deployment.record.api_keys.values())


def post(deployment: LocalDeployment, key: str, body: bytes, idempotency_key: str):
    return request(
        "POST",
        f"{deployment.url}/transactions",
        body=body,
        headers={
            "Content-Type": "application/json",
            "x-api-key": key,
            "Idempotency-Key": idempotency_key,
        },
    )


def test_the_same_key_with_another_body_is_422(deployment: LocalDeployment):
    key, idempotency_key = keys(deployment)[0], str(uuid.uuid4())
    assert post(deployment, key, payment_body("e2e-a"), idempotency_key).status == 201
    reused = post(deployment, key, payment_body("e2e-b"), idempotency_key)
    assert reused.status == 422, reused.body
    assert not contains_card_data(reused.body.decode())


def test_another_clients_transaction_is_404(deployment: LocalDeployment):
    owner, other = keys(deployment)
    created = post(deployment, owner, payment_body("e2e-owned"), str(uuid.uuid4())).json()
    url = f"{deployment.url}/status?transaction_id={created['transaction_id']}"
    assert request("GET", url, headers={"x-api-key": owner}).status == 200
    assert request("GET", url, headers={"x-api-key": other}).status == 404


def test_the_same_idempotency_key_from_another_client_is_another_transaction(deployment: LocalDeployment):
    first, second = keys(deployment)
    idempotency_key = str(uuid.uuid4())
    a = post(deployment, first, payment_body("e2e-tenant"), idempotency_key)
    b = post(deployment, second, payment_body("e2e-tenant"), idempotency_key)
    assert (a.status, b.status) == (201, 201)
    assert a.json()["transaction_id"] != b.json()["transaction_id"]


def test_unknown_route_is_403_in_the_platform_error_shape(deployment: LocalDeployment):
    response = request("GET", f"{deployment.url}/nowhere", headers={"x-api-key": keys(deployment)[0]})
    assert response.status == 403
    assert response.json()["error"]["code"] == "missing_authentication_token"


def test_missing_transaction_id_is_400_from_the_gateway(deployment: LocalDeployment):
    response = request("GET", f"{deployment.url}/status", headers={"x-api-key": keys(deployment)[0]})
    assert (response.status, response.json()["error"]["code"]) == (400, "parameter_missing")


def test_oversized_body_is_413(deployment: LocalDeployment):
    body = b'{"amount": 1, "description": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    response = post(deployment, keys(deployment)[0], body, str(uuid.uuid4()))
    assert response.status == 413


def test_a_body_nested_100000_deep_is_400_and_the_gateway_keeps_serving(deployment: LocalDeployment):
    key = keys(deployment)[0]
    nested = post(deployment, key, b"[" * 100_000 + b"]" * 100_000, str(uuid.uuid4()))
    assert nested.status == 400, nested.body
    assert nested.json()["error"]["message"] == "Invalid request body"
    assert post(deployment, key, payment_body("e2e-after-nested"), str(uuid.uuid4())).status == 201


def test_the_invoke_api_runs_only_requests_signed_with_a_key_of_the_deployment(deployment: LocalDeployment):
    base = deployment.url.rsplit("/", 1)[0]  # the Invoke API is on the gateway's port, beside the stage
    status_checker = f"status-checker-{deployment.environment.suffix}"
    invocations = f"{base}/2015-03-31/functions/{status_checker}/invocations"
    unsigned = request("POST", invocations, body=b"{}", headers={"Content-Type": "application/json"})
    assert unsigned.status == 403
    from_a_page = request("POST", invocations, body=b"{}", headers={"Origin": "https://attacker.example"})
    assert from_a_page.status == 403
    signed = emulator_client("lambda", base, REGION).invoke(FunctionName=status_checker, Payload=b"{}")
    assert signed["StatusCode"] == 200 and "FunctionError" not in signed
    # The deployed function ran and answered the bare event itself: no client identity in it.
    assert json.loads(signed["Payload"].read())["statusCode"] == 401


def test_transaction_items_hold_only_documented_attributes(deployment: LocalDeployment):
    items = deployment.client("dynamodb").scan(TableName=deployment.outputs["transactions_table_name"])["Items"]
    items = [item for item in items if item["record_type"]["S"] == "transaction"]
    assert items
    unexpected = {name for item in items for name in item} - TRANSACTION_ITEM_ATTRIBUTES
    assert not unexpected, f"undocumented attributes in the table: {sorted(unexpected)}"


def test_functions_run_the_deployed_package(deployment: LocalDeployment):
    """The code the containers run is the zip Terraform uploaded, unpacked; its hash is the deployed CodeSha256."""
    spec = deployment.gateway_spec
    lambda_ = deployment.client("lambda")
    for function in spec["functions"]:
        body = next(
            b
            for b in deployment.config["resource"]["aws_lambda_function"].values()
            if b["function_name"] == function["name"]
        )
        package = deployment.stack_dir / body["filename"]
        deployed = lambda_.get_function_configuration(FunctionName=function["name"])
        assert code_sha256(package) == deployed["CodeSha256"]
        assert (function["handler"], function["timeout_s"], function["memory_mb"]) == (
            deployed["Handler"],
            deployed["Timeout"],
            deployed["MemorySize"],
        )
        assert function["environment"] == deployed["Environment"]["Variables"]
        with zipfile.ZipFile(package) as archive:
            names = {n for n in archive.namelist() if not n.endswith("/")}
        code_dir = Path(function["code_dir"])
        assert {
            str(p.relative_to(code_dir)) for p in code_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
        } == names


def test_function_logs_are_written_with_each_functions_own_identity(deployment: LocalDeployment):
    """CloudWatch Logs holds the containers' output (START/END/REPORT and the runtime's JSON audit lines)."""
    for function in ("transaction-processor", "status-checker"):
        group = f"/aws/lambda/{function}-{deployment.environment.suffix}"
        events = deployment.client("logs").filter_log_events(logGroupName=group)["events"]
        audits = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
        assert any(a.get("audit") is True for a in audits), f"no audit line in {group}"
        assert not any(contains_card_data(e["message"]) for e in events)
