"""End to end: the `local` environment really deploys, matches the product, works, and goes away.

The `deployment` fixture (conftest.py) applies all of `local` with the real terraform binary
and hashicorp/aws provider onto a moto server in this process. The tests then read the
deployed resources back through the AWS APIs, run the deployed Lambda package's handlers
against them (moto cannot invoke Lambdas, so lambda_driver.py plays the Lambda container, in a
fresh interpreter per container), and finally destroy everything. Tests run in file order;
the destroy tests must stay last.

Run alone: .venv/bin/python -m pytest tests/e2e -q   (about 3 minutes)
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from e2e_support import REGION, LocalDeployment, output_tail

pytestmark = pytest.mark.terraform

DRIVER = Path(__file__).with_name("lambda_driver.py")

PAN = "4242424242424242"  # Stripe's Visa test number: Luhn-valid, never a real card
CVC = "123"
# What a transaction item may hold (docs/RUNTIME.md): no PAN, no CVC, no expiry date.
TRANSACTION_ITEM_ATTRIBUTES = {
    "transaction_id", "timestamp", "record_type", "client_id", "status", "amount", "currency",
    "merchant_reference", "card_brand", "card_last4", "card_fingerprint", "created_at", "idempotency_record_id",
}
INTERFACE_ENDPOINTS = {"secretsmanager", "sns", "sqs", "xray"}
GATEWAY_ENDPOINTS = {"dynamodb", "s3"}
# Variables of the runtime (docs/RUNTIME.md) that must come from the deployed function only.
RUNTIME_VARIABLES = {
    "TRANSACTIONS_TABLE_NAME", "AUDIT_QUEUE_URL", "NOTIFICATIONS_TOPIC_ARN", "CARD_FINGERPRINT_SECRET_ARN",
    "CARD_FINGERPRINT_KEY", "LOG_LEVEL", "ENVIRONMENT", "PYTHONPATH", "_X_AMZN_TRACE_ID",
}
# The lease a create takes is the invocation's remaining time + 1 s (runtime/idempotency.py):
# the first invocation pretends to be 0.5 s from its deadline so the test waits 1.5 s, not 11 s.
SHORT_REMAINING_MS = 500
LEASE_MS = SHORT_REMAINING_MS + 1000


def suffix(deployment: LocalDeployment) -> str:
    return deployment.environment.suffix


def error_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def function_names(deployment: LocalDeployment) -> dict[str, str]:
    return {
        "transaction-processor": deployment.outputs["transaction_processor_function_name"],
        "status-checker": deployment.outputs["status_checker_function_name"],
        "audit-archiver": deployment.outputs["audit_archiver_function_name"],
    }


# --------------------------------------------------------------------------- shared lookups


@pytest.fixture(scope="module")
def platform_key_arn(deployment: LocalDeployment) -> str:
    alias = f"alias/payments-key-{suffix(deployment)}"
    return deployment.client("kms").describe_key(KeyId=alias)["KeyMetadata"]["Arn"]


@pytest.fixture(scope="module")
def function_configs(deployment: LocalDeployment) -> dict[str, dict[str, Any]]:
    lambda_ = deployment.client("lambda")
    return {key: lambda_.get_function_configuration(FunctionName=name) for key, name in function_names(deployment).items()}


@pytest.fixture(scope="module")
def private_subnet_ids(deployment: LocalDeployment) -> set[str]:
    subnets = deployment.client("ec2").describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [deployment.outputs["vpc_id"]]}, {"Name": "tag:tier", "Values": ["private"]}]
    )["Subnets"]
    return {subnet["SubnetId"] for subnet in subnets}


@pytest.fixture(scope="module")
def rest_api_id(deployment: LocalDeployment) -> str:
    # https://{rest_api_id}.execute-api.{region}.amazonaws.com/{stage}
    return deployment.outputs["api_invoke_url"].split("//", 1)[1].split(".", 1)[0]


@pytest.fixture(scope="module")
def api_methods(deployment: LocalDeployment, rest_api_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    resources = deployment.client("apigateway").get_resources(restApiId=rest_api_id, embed=["methods"])["items"]
    return {
        (resource["path"], method): body
        for resource in resources
        for method, body in resource.get("resourceMethods", {}).items()
    }


@pytest.fixture(scope="module")
def queue_url(deployment: LocalDeployment) -> str:
    return deployment.client("sqs").get_queue_url(QueueName=f"transaction-queue-{suffix(deployment)}.fifo")["QueueUrl"]


@pytest.fixture(scope="module")
def queue_attributes(deployment: LocalDeployment, queue_url: str) -> dict[str, str]:
    return deployment.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]


@pytest.fixture(scope="module")
def table(deployment: LocalDeployment) -> dict[str, Any]:
    return deployment.client("dynamodb").describe_table(TableName=f"payment-transactions-{suffix(deployment)}")["Table"]


@pytest.fixture(scope="module")
def vpc_endpoints(deployment: LocalDeployment) -> dict[str, dict[str, Any]]:
    endpoints = deployment.client("ec2").describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [deployment.outputs["vpc_id"]]}]
    )["VpcEndpoints"]
    prefix = f"com.amazonaws.{REGION}."
    return {endpoint["ServiceName"].removeprefix(prefix): endpoint for endpoint in endpoints}


# --------------------------------------------------------------------------- the deployment


def test_apply_created_every_resource_of_the_synthesized_stack(deployment: LocalDeployment):
    synthesized = {f"{rtype}.{name}" for rtype, items in deployment.config["resource"].items() for name in items}
    listed = deployment.check("state", "list", timeout=120).stdout.split()
    managed = {address for address in listed if not address.startswith("data.")}
    assert managed == synthesized
    assert len(managed) > 90  # the whole platform, not a fragment of it


def test_outputs_name_the_environment_resources(deployment: LocalDeployment):
    s = suffix(deployment)
    outputs = deployment.outputs
    assert outputs["transactions_table_name"] == f"payment-transactions-{s}"
    assert outputs["audit_queue_url"].endswith(f"/transaction-queue-{s}.fifo")
    assert outputs["notifications_topic_arn"].endswith(f":payment-notifications-{s}")
    assert outputs["transaction_processor_function_name"] == f"transaction-processor-{s}"
    assert outputs["status_checker_function_name"] == f"status-checker-{s}"
    assert outputs["vpc_id"].startswith("vpc-")
    assert len(outputs["api_key_ids"]) == 1  # local has one client


# --------------------------------------------------------------------------- DynamoDB


def test_table_is_keyed_by_transaction_id_and_timestamp(table):
    assert table["KeySchema"] == [
        {"AttributeName": "transaction_id", "KeyType": "HASH"},
        {"AttributeName": "timestamp", "KeyType": "RANGE"},
    ]
    assert {(d["AttributeName"], d["AttributeType"]) for d in table["AttributeDefinitions"]} == {
        ("transaction_id", "S"),
        ("timestamp", "N"),
    }


def test_table_is_on_demand(table):
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_table_is_encrypted_with_the_platform_key(table, platform_key_arn):
    sse = table["SSEDescription"]
    assert (sse["Status"], sse["SSEType"], sse["KMSMasterKeyArn"]) == ("ENABLED", "KMS", platform_key_arn)


def test_table_has_point_in_time_recovery(deployment: LocalDeployment, table):
    backups = deployment.client("dynamodb").describe_continuous_backups(TableName=table["TableName"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_table_expires_idempotency_records(deployment: LocalDeployment, table):
    ttl = deployment.client("dynamodb").describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


# --------------------------------------------------------------------------- SQS and SNS


def test_audit_queue_is_fifo_with_content_based_deduplication(queue_attributes):
    assert queue_attributes["FifoQueue"] == "true"
    assert queue_attributes["ContentBasedDeduplication"] == "true"


def test_audit_queue_keeps_messages_for_14_days(queue_attributes):
    assert queue_attributes["MessageRetentionPeriod"] == "1209600"


def test_audit_queue_is_encrypted_with_the_platform_key(queue_attributes, platform_key_arn):
    assert queue_attributes["KmsMasterKeyId"] == platform_key_arn


def test_audit_queue_policy_denies_insecure_transport(queue_attributes):
    (statement,) = json.loads(queue_attributes["Policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_topic_is_encrypted_with_the_platform_key(deployment: LocalDeployment, platform_key_arn):
    attributes = deployment.client("sns").get_topic_attributes(TopicArn=deployment.outputs["notifications_topic_arn"])
    assert attributes["Attributes"]["KmsMasterKeyId"] == platform_key_arn


def test_topic_has_the_environment_email_subscription(deployment: LocalDeployment):
    subscriptions = deployment.client("sns").list_subscriptions_by_topic(
        TopicArn=deployment.outputs["notifications_topic_arn"]
    )["Subscriptions"]
    expected = deployment.environment.plugin_settings("messaging")["notification_email"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", expected)]


# --------------------------------------------------------------------------- Lambda


FUNCTIONS = ["transaction-processor", "status-checker"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_runs_python_3_12_with_at_least_512_mb(function_configs, function):
    config = function_configs[function]
    assert config["Runtime"] == "python3.12"
    assert config["MemorySize"] >= 512


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_has_active_tracing(function_configs, function):
    assert function_configs[function]["TracingConfig"] == {"Mode": "Active"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_runs_in_the_private_subnets(function_configs, private_subnet_ids, function):
    vpc_config = function_configs[function]["VpcConfig"]
    assert vpc_config["SubnetIds"]
    assert set(vpc_config["SubnetIds"]) == private_subnet_ids
    assert len(vpc_config["SecurityGroupIds"]) == 1


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_environment_is_encrypted_with_the_platform_key(function_configs, platform_key_arn, function):
    assert function_configs[function]["KMSKeyArn"] == platform_key_arn


@pytest.mark.parametrize(
    "function, variables",
    [
        (
            "transaction-processor",
            {"TRANSACTIONS_TABLE_NAME", "AUDIT_QUEUE_URL", "NOTIFICATIONS_TOPIC_ARN", "CARD_FINGERPRINT_SECRET_ARN",
             "LOG_LEVEL", "ENVIRONMENT"},
        ),
        # Least privilege in configuration too: the status checker never sees the queue, topic or key.
        ("status-checker", {"TRANSACTIONS_TABLE_NAME", "LOG_LEVEL", "ENVIRONMENT"}),
    ],
)
def test_function_environment_names_the_deployed_resources(deployment: LocalDeployment, function_configs, function, variables):
    environment = function_configs[function]["Environment"]["Variables"]
    assert set(environment) == variables
    assert environment["TRANSACTIONS_TABLE_NAME"] == deployment.outputs["transactions_table_name"]
    assert environment["ENVIRONMENT"] == deployment.environment.name
    if function == "transaction-processor":
        assert environment["AUDIT_QUEUE_URL"] == deployment.outputs["audit_queue_url"]
        assert environment["NOTIFICATIONS_TOPIC_ARN"] == deployment.outputs["notifications_topic_arn"]


def test_card_fingerprint_secret_exists_under_the_platform_key(deployment: LocalDeployment, function_configs, platform_key_arn):
    arn = function_configs["transaction-processor"]["Environment"]["Variables"]["CARD_FINGERPRINT_SECRET_ARN"]
    secret = deployment.client("secretsmanager").describe_secret(SecretId=arn)
    assert secret["KmsKeyId"] == platform_key_arn


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_log_group_keeps_30_days_under_the_platform_key(deployment: LocalDeployment, platform_key_arn, function):
    name = f"/aws/lambda/{function_names(deployment)[function]}"
    groups = deployment.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    (group,) = [g for g in groups if g["logGroupName"] == name]
    assert group["retentionInDays"] == 30
    assert group["kmsKeyId"] == platform_key_arn


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_code_is_the_synthesized_package(deployment: LocalDeployment, function_configs, lambda_zip, function):
    expected = base64.b64encode(hashlib.sha256(lambda_zip.read_bytes()).digest()).decode()
    assert function_configs[function]["CodeSha256"] == expected


# --------------------------------------------------------------------------- API Gateway


@pytest.mark.parametrize(
    "path, method, function",
    [("/transactions", "POST", "transaction-processor"), ("/status", "GET", "status-checker")],
)
def test_route_requires_an_api_key(api_methods, path, method, function):
    assert api_methods[(path, method)]["apiKeyRequired"] is True


@pytest.mark.parametrize(
    "path, method, function",
    [("/transactions", "POST", "transaction-processor"), ("/status", "GET", "status-checker")],
)
def test_route_proxies_to_its_function(deployment: LocalDeployment, api_methods, path, method, function):
    integration = api_methods[(path, method)]["methodIntegration"]
    assert integration["type"] == "AWS_PROXY"
    assert integration["uri"].endswith(f":function:{function_names(deployment)[function]}/invocations")


def test_api_has_only_the_product_routes_and_preflights(api_methods):
    assert set(api_methods) == {
        ("/transactions", "POST"), ("/transactions", "OPTIONS"), ("/status", "GET"), ("/status", "OPTIONS"),
    }


def test_prod_stage_has_xray_tracing(deployment: LocalDeployment, rest_api_id):
    stage = deployment.client("apigateway").get_stage(restApiId=rest_api_id, stageName="prod")
    assert stage["tracingEnabled"] is True


def test_usage_plan_gives_the_client_key_the_prod_stage(deployment: LocalDeployment, rest_api_id):
    apigateway = deployment.client("apigateway")
    (plan,) = [p for p in apigateway.get_usage_plans()["items"] if p["name"] == f"payments-usage-plan-{suffix(deployment)}"]
    assert plan["apiStages"] == [{"apiId": rest_api_id, "stage": "prod"}]
    keys = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    assert [k["id"] for k in keys] == deployment.outputs["api_key_ids"]


# --------------------------------------------------------------------------- KMS and network


def test_platform_key_rotates(deployment: LocalDeployment, platform_key_arn):
    assert deployment.client("kms").get_key_rotation_status(KeyId=platform_key_arn)["KeyRotationEnabled"] is True


@pytest.mark.parametrize("service", sorted(GATEWAY_ENDPOINTS))
def test_gateway_endpoint_routes_every_route_table(deployment: LocalDeployment, vpc_endpoints, service):
    endpoint = vpc_endpoints[service]
    assert endpoint["VpcEndpointType"] == "Gateway"
    route_tables = deployment.client("ec2").describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [deployment.outputs["vpc_id"]]}]
    )["RouteTables"]
    non_main = {rt["RouteTableId"] for rt in route_tables if not any(a.get("Main") for a in rt.get("Associations", []))}
    assert set(endpoint["RouteTableIds"]) == non_main


@pytest.mark.parametrize("service", sorted(INTERFACE_ENDPOINTS))
def test_interface_endpoint_serves_the_private_subnets_with_private_dns(vpc_endpoints, private_subnet_ids, service):
    endpoint = vpc_endpoints[service]
    assert endpoint["VpcEndpointType"] == "Interface"
    assert endpoint["PrivateDnsEnabled"] is True
    assert set(endpoint["SubnetIds"]) == private_subnet_ids


def test_vpc_has_no_other_endpoints(vpc_endpoints):
    assert set(vpc_endpoints) == GATEWAY_ENDPOINTS | INTERFACE_ENDPOINTS


# --------------------------------------------------------------------------- re-plan


# What a second plan on moto shows (moto 5.2.5, hashicorp/aws 5.100.0): moto does not store a
# Lambda function's logging_config, nor the description of a security group rule created with a
# referenced group or prefix list (once updated it keeps it). Anything else is real drift.
MOTO_UNSTORED_ATTRIBUTES = {
    "aws_lambda_function": {"logging_config"},
    "aws_vpc_security_group_egress_rule": {"description"},
    "aws_vpc_security_group_ingress_rule": {"description"},
}


def test_second_plan_changes_only_what_moto_does_not_store(deployment: LocalDeployment):
    deployment.check("plan", "-input=false", "-no-color", "-out=replan.tfplan", "-parallelism=10")
    plan = json.loads(deployment.check("show", "-json", "-no-color", "replan.tfplan", timeout=120).stdout)
    unexpected = []
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
        changed = {key for key in set(before) | set(after) if before.get(key) != after.get(key)}
        allowed = MOTO_UNSTORED_ATTRIBUTES.get(change["type"], set())
        if actions != ["update"] or not changed <= allowed:
            unexpected.append(f"{change['address']}: {actions} {sorted(changed)}")
    assert not unexpected, "drift right after apply:\n" + "\n".join(unexpected)


# --------------------------------------------------------------------------- the runtime on it


@pytest.fixture(scope="module")
def lambda_zip(deployment: LocalDeployment) -> Path:
    (function,) = {body["filename"] for body in deployment.config["resource"]["aws_lambda_function"].values()}
    return deployment.stack_dir / function


@pytest.fixture(scope="module")
def lambda_package(lambda_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deployment package unpacked, as Lambda unpacks it into /var/task."""
    target = tmp_path_factory.mktemp("lambda-task")
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(target)
    return target


@dataclass
class Container:
    """One run of lambda_driver.py: a fresh interpreter playing one Lambda container."""

    function: str
    responses: list[dict[str, Any]]
    module_files: dict[str, str | None]
    logs: list[dict[str, Any]] = field(default_factory=list)
    raw_log: str = ""

    def audit_outcomes(self) -> list[tuple[str, int]]:
        return [(line["outcome"], line["http_status"]) for line in self.logs if line.get("audit") is True]


def container_environment(deployment: LocalDeployment, config: dict[str, Any]) -> dict[str, str]:
    """The deployed function's variables, AWS_ENDPOINT_URL at the emulator, and nothing inherited
    that could change what the runtime does."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in RUNTIME_VARIABLES
    }
    environment.update(config["Environment"]["Variables"])
    environment.update(
        {
            "AWS_ENDPOINT_URL": deployment.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "e2e-testing",
            "AWS_SECRET_ACCESS_KEY": "e2e-testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["MemorySize"]),
            "_X_AMZN_TRACE_ID": "Root=1-67a1b2c3-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return environment


@pytest.fixture(scope="module")
def run_container(deployment: LocalDeployment, function_configs, lambda_package, tmp_path_factory) -> Callable[..., Container]:
    workdir = tmp_path_factory.mktemp("containers")

    def run(function: str, invocations: list[tuple[dict[str, Any], int]]) -> Container:
        config = function_configs[function]
        name = uuid.uuid4().hex[:8]
        spec, results = workdir / f"{name}.spec.json", workdir / f"{name}.results.json"
        spec.write_text(
            json.dumps(
                {
                    "package_dir": str(lambda_package),
                    "handler": config["Handler"],
                    "function_name": config["FunctionName"],
                    "invocations": [{"event": event, "remaining_ms": remaining} for event, remaining in invocations],
                }
            )
        )
        completed = subprocess.run(
            [sys.executable, str(DRIVER), str(spec), str(results)],
            env=container_environment(deployment, config),
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, f"{function} container failed (exit {completed.returncode})\n{output_tail(completed)}"
        result = json.loads(results.read_text())
        logs = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
        return Container(function, result["responses"], result["module_files"], logs, completed.stdout + completed.stderr)

    return run


def proxy_event(
    deployment: LocalDeployment,
    rest_api_id: str,
    api_key_id: str,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (payload v1) proxy event, as the deployed stage would send it."""
    all_headers = {"Accept": "application/json", "User-Agent": "payments-e2e", **(headers or {})}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": {"environment": deployment.environment.name, "log_level": "INFO"},
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "apiId": rest_api_id,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"apiKeyId": api_key_id, "sourceIp": "127.0.0.1", "userAgent": "payments-e2e"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def transaction_body(amount: int = 1250) -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": "EUR",
        "merchant_reference": "e2e-order-1001",
        "card": {"number": PAN, "exp_month": 12, "exp_year": date.today().year + 1, "cvc": CVC},
    }


@dataclass
class RuntimeRun:
    created: dict[str, Any]
    duplicate_in_flight: dict[str, Any]
    replayed: dict[str, Any]
    key_reused: dict[str, Any]
    status: dict[str, Any]
    status_of_other_client: dict[str, Any]
    containers: list[Container]
    audit_messages: list[dict[str, Any]]
    events: list[dict[str, Any]]

    @property
    def transaction_id(self) -> str:
        return json.loads(self.created["body"])["transaction_id"]


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages += batch


@pytest.fixture(scope="module")
def runtime_run(
    deployment: LocalDeployment, function_configs, run_container, rest_api_id: str, queue_url: str
) -> RuntimeRun:
    """POST and an in-flight duplicate; from a second container, after the lease, a replay and a
    key reuse; from a status-checker container, GET by the owner and by another client."""
    sqs, sns = deployment.client("sqs"), deployment.client("sns")
    topic_arn = deployment.outputs["notifications_topic_arn"]
    # A test-only tap on the topic: the email subscription receives nothing on moto.
    tap_url = sqs.create_queue(QueueName=f"e2e-events-tap-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=tap_arn, Attributes={"RawMessageDelivery": "true"}
    )["SubscriptionArn"]
    try:
        (api_key_id,) = deployment.outputs["api_key_ids"]
        idempotency_key = f"e2e-{uuid.uuid4()}"

        def post(body: dict[str, Any]) -> dict[str, Any]:
            return proxy_event(
                deployment, rest_api_id, api_key_id, "POST", "/transactions",
                body=body, headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
            )

        processor_ms = function_configs["transaction-processor"]["Timeout"] * 1000
        first = run_container(
            "transaction-processor",
            [(post(transaction_body()), SHORT_REMAINING_MS), (post(transaction_body()), SHORT_REMAINING_MS)],
        )
        time.sleep(LEASE_MS / 1000 + 0.2)  # the first request's lease is over: the key reads as finished
        second = run_container(
            "transaction-processor",
            [(post(transaction_body()), processor_ms), (post(transaction_body(amount=999)), processor_ms)],
        )
        transaction_id = json.loads(first.responses[0]["body"])["transaction_id"]

        def get(key_id: str) -> dict[str, Any]:
            return proxy_event(deployment, rest_api_id, key_id, "GET", "/status", query={"transaction_id": transaction_id})

        checker_ms = function_configs["status-checker"]["Timeout"] * 1000
        third = run_container("status-checker", [(get(api_key_id), checker_ms), (get("e2e-other-client"), checker_ms)])
        return RuntimeRun(
            created=first.responses[0],
            duplicate_in_flight=first.responses[1],
            replayed=second.responses[0],
            key_reused=second.responses[1],
            status=third.responses[0],
            status_of_other_client=third.responses[1],
            containers=[first, second, third],
            audit_messages=drain(sqs, queue_url),
            events=drain(sqs, tap_url),
        )
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=tap_url)


def body(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])


def test_handlers_come_from_the_deployed_package(runtime_run: RuntimeRun, lambda_package: Path):
    for container in runtime_run.containers:
        for module in ("payments_runtime", "structlog"):
            assert Path(container.module_files[module]).is_relative_to(lambda_package), (module, container.module_files)


def test_post_transactions_returns_201_with_the_public_view(runtime_run: RuntimeRun):
    created = runtime_run.created
    assert created["statusCode"] == 201, runtime_run.containers[0].raw_log[-3000:]
    view = body(created)
    assert view["transaction_id"].startswith("txn_")
    assert (view["status"], view["amount"], view["currency"]) == ("received", 1250, "EUR")
    assert view["card"] == {"brand": "visa", "last4": "4242"}
    assert PAN not in created["body"]


def test_transaction_item_is_in_the_deployed_table_without_card_data(deployment: LocalDeployment, runtime_run: RuntimeRun):
    items = deployment.client("dynamodb").query(
        TableName=deployment.outputs["transactions_table_name"],
        KeyConditionExpression="transaction_id = :id",
        ExpressionAttributeValues={":id": {"S": runtime_run.transaction_id}},
        ConsistentRead=True,
    )["Items"]
    (item,) = items
    assert set(item) == TRANSACTION_ITEM_ATTRIBUTES
    assert (item["card_brand"]["S"], item["card_last4"]["S"]) == ("visa", "4242")
    assert item["card_fingerprint"]["S"].startswith("cfp_")


def test_no_item_in_the_deployed_table_holds_the_pan_or_cvc(deployment: LocalDeployment, runtime_run: RuntimeRun):
    items = deployment.client("dynamodb").scan(
        TableName=deployment.outputs["transactions_table_name"], ConsistentRead=True
    )["Items"]
    assert {item["record_type"]["S"] for item in items} == {"transaction", "idempotency_key"}
    text = json.dumps(items)
    assert PAN not in text and PAN[-8:] not in text
    values = [value for item in items for attribute in item.values() for value in attribute.values()]
    assert CVC not in values
    assert not any(name in item for item in items for name in ("cvc", "card_number", "pan", "exp_month", "exp_year"))


def test_audit_message_is_in_the_deployed_fifo_queue_without_the_pan(runtime_run: RuntimeRun):
    (message,) = runtime_run.audit_messages
    audit = json.loads(message["Body"])
    assert (audit["type"], audit["transaction_id"]) == ("transaction.created", runtime_run.transaction_id)
    assert message["Attributes"]["MessageDeduplicationId"] == runtime_run.transaction_id
    assert message["Attributes"]["MessageGroupId"].startswith("client-")
    assert PAN not in message["Body"]


def test_payment_event_is_published_to_the_deployed_topic_without_the_pan(runtime_run: RuntimeRun):
    (event,) = runtime_run.events
    payload = json.loads(event["Body"])
    assert (payload["event_type"], payload["event_id"]) == ("payment.transaction.received", runtime_run.transaction_id)
    assert event["MessageAttributes"]["event_type"]["StringValue"] == "payment.transaction.received"
    assert PAN not in event["Body"]


def test_duplicate_while_the_first_is_in_flight_is_409(runtime_run: RuntimeRun):
    response = runtime_run.duplicate_in_flight
    assert response["statusCode"] == 409
    assert body(response)["error"]["code"] == "idempotency_request_in_progress"
    assert int(response["headers"]["Retry-After"]) >= 1


def test_replay_from_another_container_returns_the_original_transaction(runtime_run: RuntimeRun):
    replayed = runtime_run.replayed
    assert replayed["statusCode"] == 201, runtime_run.containers[1].raw_log[-3000:]
    assert replayed["headers"].get("Idempotent-Replayed") == "true"
    assert replayed["body"] == runtime_run.created["body"]


def test_same_key_with_another_body_is_422(runtime_run: RuntimeRun):
    response = runtime_run.key_reused
    assert response["statusCode"] == 422
    assert body(response)["error"]["code"] == "idempotency_key_reused"


def test_status_handler_reads_the_transaction(runtime_run: RuntimeRun):
    status = runtime_run.status
    assert status["statusCode"] == 200, runtime_run.containers[2].raw_log[-3000:]
    view = body(status)
    assert (view["transaction_id"], view["status"]) == (runtime_run.transaction_id, "received")
    assert view["card"] == {"brand": "visa", "last4": "4242"}


def test_status_of_another_clients_transaction_is_404(runtime_run: RuntimeRun):
    response = runtime_run.status_of_other_client
    assert response["statusCode"] == 404
    assert body(response)["error"]["code"] == "transaction_not_found"


def test_each_request_is_audited_once(runtime_run: RuntimeRun):
    assert [c.audit_outcomes() for c in runtime_run.containers] == [
        [("created", 201), ("conflict", 409)],
        [("replayed", 201), ("conflict", 422)],
        [("read", 200), ("not_found", 404)],
    ]


def test_runtime_logs_hold_no_card_data(runtime_run: RuntimeRun):
    for container in runtime_run.containers:
        assert PAN not in container.raw_log
        assert PAN[-8:] not in container.raw_log
        assert f'"{CVC}"' not in container.raw_log


# --------------------------------------------------------------------------- the audit archive


AUDIT_SOURCES = ("api-access", "audit-archiver", "status-checker", "transaction-processor", "vpc-flow-logs")


@pytest.fixture(scope="module")
def archive_bucket(deployment: LocalDeployment) -> str:
    return deployment.outputs["audit_archive_bucket_name"]


def test_archive_bucket_is_versioned_and_encrypted_with_the_platform_key(deployment, archive_bucket, platform_key_arn):
    s3 = deployment.client("s3")
    assert s3.get_bucket_versioning(Bucket=archive_bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=archive_bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": platform_key_arn}


def test_archive_bucket_blocks_public_access(deployment, archive_bucket):
    block = deployment.client("s3").get_public_access_block(Bucket=archive_bucket)["PublicAccessBlockConfiguration"]
    assert set(block.values()) == {True} and len(block) == 4


def test_archive_bucket_keeps_objects_400_days_moving_them_to_glacier_instant_retrieval(deployment, archive_bucket):
    (rule,) = deployment.client("s3").get_bucket_lifecycle_configuration(Bucket=archive_bucket)["Rules"]
    assert (rule["Expiration"]["Days"], rule["Transitions"]) == (400, [{"Days": 90, "StorageClass": "GLACIER_IR"}])


def test_archive_bucket_policy_denies_requests_without_tls(deployment, archive_bucket):
    policy = json.loads(deployment.client("s3").get_bucket_policy(Bucket=archive_bucket)["Policy"])
    assert {s["Sid"] for s in policy["Statement"]} == {
        "DenyInsecureTransport", "DenyOutdatedTls", "DenyUnencryptedObjectUploads", "DenyOtherKmsKeys"
    }


def test_audit_queue_redrives_to_its_fifo_dead_letter_queue(deployment, queue_attributes):
    redrive = json.loads(queue_attributes["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"].endswith(f":transaction-queue-dlq-{suffix(deployment)}.fifo")


def test_archiver_reads_the_audit_queue_in_batches_with_partial_failures(deployment, queue_attributes):
    (mapping,) = deployment.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert mapping["FunctionArn"].endswith(f":function:{deployment.outputs['audit_archiver_function_name']}")
    assert mapping["EventSourceArn"] == queue_attributes["QueueArn"]
    assert (mapping["BatchSize"], mapping["FunctionResponseTypes"]) == (10, ["ReportBatchItemFailures"])


@pytest.mark.parametrize("source", AUDIT_SOURCES)
def test_log_group_is_subscribed_to_its_archive_stream(deployment, source):
    streams = deployment.client("firehose").list_delivery_streams()["DeliveryStreamNames"]
    assert f"audit-logs-{source}-{suffix(deployment)}" in streams
    groups = {g["logGroupName"] for g in deployment.client("logs").describe_log_groups()["logGroups"]}
    subscribed = {
        group: deployment.client("logs").describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
        for group in groups
    }
    destinations = {f["destinationArn"].rsplit("/", 1)[1] for filters in subscribed.values() for f in filters}
    assert f"audit-logs-{source}-{suffix(deployment)}" in destinations


@dataclass
class ArchiveRun:
    transaction_ids: list[str]
    poison_id: str
    archiver: Container
    dead_letters: list[dict[str, Any]]
    left_in_queue: list[dict[str, Any]]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping hands the function."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@pytest.fixture(scope="module")
def archive_run(deployment, function_configs, run_container, rest_api_id, queue_url, queue_attributes) -> ArchiveRun:
    """Three transactions and a poison message on the deployed audit queue; one batch handed to
    the archiver twice (its first result lost: a redelivery); then the queue does what its
    redrive policy says with the poison message."""
    sqs = deployment.client("sqs")
    (api_key_id,) = deployment.outputs["api_key_ids"]
    processor_ms = function_configs["transaction-processor"]["Timeout"] * 1000
    posts = [
        proxy_event(
            deployment, rest_api_id, api_key_id, "POST", "/transactions", body=transaction_body(amount=100 + n),
            headers={"Content-Type": "application/json", "Idempotency-Key": f"e2e-archive-{uuid.uuid4()}"},
        )
        for n in range(3)
    ]
    created = run_container("transaction-processor", [(event, processor_ms) for event in posts])
    transaction_ids = [json.loads(r["body"])["transaction_id"] for r in created.responses]
    poison_id = sqs.send_message(QueueUrl=queue_url, MessageBody=f"{PAN} is not an audit record", MessageGroupId="e2e-poison")["MessageId"]

    batch = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=30
    ).get("Messages", [])
    assert len(batch) == 4, batch
    event = sqs_event(batch, queue_attributes["QueueArn"])
    archiver_ms = function_configs["audit-archiver"]["Timeout"] * 1000
    archiver = run_container("audit-archiver", [(event, archiver_ms), (event, archiver_ms)])
    failed = {item["itemIdentifier"] for item in archiver.responses[-1]["batchItemFailures"]}
    for message in batch:  # as the event source mapping does with the last response
        if message["MessageId"] in failed:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    # The poison message fails on every receive; after maxReceiveCount SQS moves it aside.
    for _ in range(json.loads(queue_attributes["RedrivePolicy"])["maxReceiveCount"]):
        sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    dlq_url = deployment.outputs["audit_dead_letter_queue_url"]
    return ArchiveRun(
        transaction_ids=transaction_ids,
        poison_id=poison_id,
        archiver=archiver,
        dead_letters=drain(sqs, dlq_url),
        left_in_queue=drain(sqs, queue_url),
    )


def _archived(deployment: LocalDeployment, bucket: str, prefix: str) -> list[tuple[dict[str, Any], bytes]]:
    s3 = deployment.client("s3")
    versions = s3.list_object_versions(Bucket=bucket, Prefix=prefix).get("Versions", [])
    return [(v, s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()) for v in versions]


def test_archiver_reports_only_the_poison_message_as_failed(archive_run: ArchiveRun):
    for response in archive_run.archiver.responses:
        assert response == {"batchItemFailures": [{"itemIdentifier": archive_run.poison_id}]}


def test_every_audit_message_is_archived_exactly_once_despite_the_redelivery(deployment, archive_bucket, archive_run):
    archived = _archived(deployment, archive_bucket, "audit/")
    assert sorted(json.loads(body)["message"]["transaction_id"] for _, body in archived) == sorted(archive_run.transaction_ids)
    assert len({version["Key"] for version, _ in archived}) == len(archived)  # one version per object
    duplicates = [line for line in archive_run.archiver.logs if line.get("event") == "audit_message_already_archived"]
    assert len(duplicates) == 3


def test_archived_audit_records_hold_no_card_data(deployment, archive_bucket, archive_run):
    for _, body in _archived(deployment, archive_bucket, "audit/"):
        text = body.decode()
        assert PAN not in text and '"cvc"' not in text.lower() and CVC not in json.loads(text)["message"].values()


def test_poison_message_lands_in_the_dead_letter_queue_and_leaves_the_queue(archive_run: ArchiveRun):
    assert [m["MessageId"] for m in archive_run.dead_letters] == [archive_run.poison_id]
    assert archive_run.left_in_queue == []


def test_archiver_logs_name_the_poison_message_without_its_content(archive_run: ArchiveRun):
    rejected = [line for line in archive_run.archiver.logs if line.get("event") == "audit_message_rejected"]
    assert {(line["message_id"], line["reason"]) for line in rejected} == {(archive_run.poison_id, "invalid_json")}
    assert PAN not in archive_run.archiver.raw_log


def test_function_log_events_reach_the_archive_through_firehose(deployment, archive_bucket):
    logs = deployment.client("logs")
    group = f"/aws/lambda/{deployment.outputs['transaction_processor_function_name']}"
    stream = f"e2e-{uuid.uuid4().hex[:8]}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group, logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": '{"event":"e2e-archived-line"}'}],
    )
    (_, body), = _archived(deployment, archive_bucket, "logs/transaction-processor/")
    delivered = json.loads(gzip.decompress(body))
    assert (delivered["logGroup"], delivered["logStream"]) == (group, stream)
    assert [e["message"] for e in delivered["logEvents"]] == ['{"event":"e2e-archived-line"}']


# --------------------------------------------------------------------------- destroy (last)


@pytest.fixture
def destroyed(deployment: LocalDeployment) -> LocalDeployment:
    result = deployment.destroy()
    assert result.returncode == 0, f"terraform destroy failed (exit {result.returncode})\n{output_tail(result)}"
    return deployment


def test_destroy_succeeds_and_empties_the_state(destroyed: LocalDeployment):
    listed = destroyed.check("state", "list", timeout=120).stdout.split()
    assert [address for address in listed if not address.startswith("data.")] == []


def _gone(call: Callable[[], Any], *codes: str) -> bool:
    try:
        call()
    except ClientError as error:
        return error_code(error) in codes
    return False


def _platform_key_state(deployment: LocalDeployment) -> str:
    kms = deployment.client("kms")
    described = [kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"] for key in kms.list_keys()["Keys"]]
    (key,) = [k for k in described if k.get("Description", "").startswith("payments-platform customer-managed key")]
    return key["KeyState"]


# The moto server was reset before the deployment: whatever is left in it, the platform left.
GONE_CHECKS: dict[str, Callable[[LocalDeployment], bool]] = {
    "table": lambda d: not d.client("dynamodb").list_tables()["TableNames"],
    "queue": lambda d: not d.client("sqs").list_queues().get("QueueUrls"),
    "topic": lambda d: not d.client("sns").list_topics()["Topics"],
    "functions": lambda d: not d.client("lambda").list_functions()["Functions"],
    "log groups": lambda d: not d.client("logs").describe_log_groups()["logGroups"],
    "rest api": lambda d: not d.client("apigateway").get_rest_apis()["items"],
    "api keys": lambda d: not d.client("apigateway").get_api_keys()["items"],
    "secret": lambda d: not d.client("secretsmanager").list_secrets()["SecretList"],
    "vpc": lambda d: _gone(lambda: d.client("ec2").describe_vpcs(VpcIds=[d.outputs["vpc_id"]]), "InvalidVpcID.NotFound"),
    # Deleted endpoints stay listed for a while, in state "deleted" (on AWS too).
    "vpc endpoints": lambda d: {e["State"] for e in d.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]} <= {"deleted"},
    "roles": lambda d: not [r for r in d.client("iam").list_roles()["Roles"] if r["RoleName"].endswith(f"-{suffix(d)}")],
    "alarms": lambda d: not d.client("cloudwatch").describe_alarms()["MetricAlarms"],
    "dashboard": lambda d: not d.client("cloudwatch").list_dashboards()["DashboardEntries"],
    "archive bucket": lambda d: not d.client("s3").list_buckets()["Buckets"],
    "delivery streams": lambda d: not d.client("firehose").list_delivery_streams()["DeliveryStreamNames"],
    "event source mappings": lambda d: not d.client("lambda").list_event_source_mappings()["EventSourceMappings"],
    # KMS keys are never deleted at once: the platform schedules deletion (7 days).
    "key": lambda d: _platform_key_state(d) == "PendingDeletion",
}


@pytest.mark.parametrize("resource", list(GONE_CHECKS))
def test_destroy_leaves_nothing_behind(destroyed: LocalDeployment, resource: str):
    assert GONE_CHECKS[resource](destroyed), f"{resource} still exists after terraform destroy"
