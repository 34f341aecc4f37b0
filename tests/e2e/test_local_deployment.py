"""End to end: the `local` environment really deploys and matches the product.

The `deployment` fixture (conftest.py) brings `local` up with `local up`'s own code: the emulator
with IAM enforced, real terraform and hashicorp/aws, the local gateway. These tests read the
deployed resources back through the AWS APIs; test_local_api.py calls the API over HTTP,
test_least_privilege.py checks each function's identity, test_teardown.py takes it all down.

Run alone: .venv/bin/python -m pytest tests/e2e -q   (about 3 minutes)
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from e2e_support import REGION, LocalDeployment

from payments_platform.core.local.lifecycle import planned_changes

pytestmark = pytest.mark.terraform


# lambda: local has a payment connector (the acquirer simulator), which the processor invokes from the
# private subnets through Lambda's interface endpoint (asked of the network by the api plugin).
INTERFACE_ENDPOINTS = {"lambda", "secretsmanager", "sns", "sqs", "xray"}
GATEWAY_ENDPOINTS = {"dynamodb", "s3"}


def suffix(deployment: LocalDeployment) -> str:
    return deployment.environment.suffix


def error_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def function_names(deployment: LocalDeployment) -> dict[str, str]:
    return {
        "transaction-processor": deployment.outputs["transaction_processor_function_name"],
        "status-checker": deployment.outputs["status_checker_function_name"],
    }


# --------------------------------------------------------------------------- shared lookups


@pytest.fixture(scope="module")
def platform_key_arn(deployment: LocalDeployment) -> str:
    alias = f"alias/payments-key-{suffix(deployment)}"
    return deployment.client("kms").describe_key(KeyId=alias)["KeyMetadata"]["Arn"]


@pytest.fixture(scope="module")
def function_configs(deployment: LocalDeployment) -> dict[str, dict[str, Any]]:
    lambda_ = deployment.client("lambda")
    return {
        key: lambda_.get_function_configuration(FunctionName=name) for key, name in function_names(deployment).items()
    }


@pytest.fixture(scope="module")
def private_subnet_ids(deployment: LocalDeployment) -> set[str]:
    subnets = deployment.client("ec2").describe_subnets(
        Filters=[
            {"Name": "vpc-id", "Values": [deployment.outputs["vpc_id"]]},
            {"Name": "tag:tier", "Values": ["private"]},
        ]
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
    assert len(outputs["api_key_ids"]) == 2  # local has two clients (tenant isolation is tested over HTTP)


# --------------------------------------------------------------------------- DynamoDB


def test_table_is_keyed_by_transaction_id_and_timestamp(table):
    assert table["KeySchema"] == [
        {"AttributeName": "transaction_id", "KeyType": "HASH"},
        {"AttributeName": "timestamp", "KeyType": "RANGE"},
    ]
    assert {(d["AttributeName"], d["AttributeType"]) for d in table["AttributeDefinitions"]} == {
        ("transaction_id", "S"),
        ("timestamp", "N"),
        ("dispatch_pending", "S"),
        ("lease_expires_at", "N"),
    }


def test_table_has_the_sparse_dispatch_pending_index(table):
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "dispatch-pending"
    assert index["KeySchema"] == [
        {"AttributeName": "dispatch_pending", "KeyType": "HASH"},
        {"AttributeName": "lease_expires_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["target_timestamp"]}


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
    deployed = [s for s in subscriptions if s["SubscriptionArn"] not in deployment.test_subscriptions]
    assert [(s["Protocol"], s["Endpoint"]) for s in deployed] == [("email", expected)]


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
            {
                "TRANSACTIONS_TABLE_NAME",
                "AUDIT_QUEUE_URL",
                "NOTIFICATIONS_TOPIC_ARN",
                "CARD_FINGERPRINT_SECRET_ARN",
                "LOG_LEVEL",
                "ENVIRONMENT",
                # local has a payment connector: whom to invoke, and how long to wait for its answer.
                "CONNECTOR_FUNCTION_NAME",
                "AUTHORIZATION_BUDGET_MS",
            },
        ),
        # Least privilege in configuration too: the status checker never sees the queue, topic or key.
        ("status-checker", {"TRANSACTIONS_TABLE_NAME", "LOG_LEVEL", "ENVIRONMENT"}),
    ],
)
def test_function_environment_names_the_deployed_resources(
    deployment: LocalDeployment, function_configs, function, variables
):
    environment = function_configs[function]["Environment"]["Variables"]
    assert set(environment) == variables
    assert environment["TRANSACTIONS_TABLE_NAME"] == deployment.outputs["transactions_table_name"]
    assert environment["ENVIRONMENT"] == deployment.environment.name
    if function == "transaction-processor":
        assert environment["AUDIT_QUEUE_URL"] == deployment.outputs["audit_queue_url"]
        assert environment["NOTIFICATIONS_TOPIC_ARN"] == deployment.outputs["notifications_topic_arn"]


def test_card_fingerprint_secret_exists_under_the_platform_key(
    deployment: LocalDeployment, function_configs, platform_key_arn
):
    arn = function_configs["transaction-processor"]["Environment"]["Variables"]["CARD_FINGERPRINT_SECRET_ARN"]
    secret = deployment.client("secretsmanager").describe_secret(SecretId=arn)
    assert secret["KmsKeyId"] == platform_key_arn


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_log_group_keeps_30_days_under_the_platform_key(
    deployment: LocalDeployment, platform_key_arn, function
):
    name = f"/aws/lambda/{function_names(deployment)[function]}"
    groups = deployment.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    (group,) = [g for g in groups if g["logGroupName"] == name]
    assert group["retentionInDays"] == 30
    assert group["kmsKeyId"] == platform_key_arn


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
        ("/transactions", "POST"),
        ("/transactions", "OPTIONS"),
        ("/status", "GET"),
        ("/status", "OPTIONS"),
    }


def test_prod_stage_has_xray_tracing(deployment: LocalDeployment, rest_api_id):
    stage = deployment.client("apigateway").get_stage(restApiId=rest_api_id, stageName="prod")
    assert stage["tracingEnabled"] is True


def test_usage_plan_gives_the_client_key_the_prod_stage(deployment: LocalDeployment, rest_api_id):
    apigateway = deployment.client("apigateway")
    (plan,) = [
        p for p in apigateway.get_usage_plans()["items"] if p["name"] == f"payments-usage-plan-{suffix(deployment)}"
    ]
    assert plan["apiStages"] == [{"apiId": rest_api_id, "stage": "prod"}]
    keys = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    assert sorted(k["id"] for k in keys) == sorted(deployment.outputs["api_key_ids"])


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


def test_plan_right_after_apply_shows_no_changes(deployment: LocalDeployment):
    """The emulator layer stores what the provider sends (core/local/emulator/moto_fidelity.py), so a plan
    right after apply is empty -- with no ignore_changes that would hide drift on AWS."""
    assert planned_changes(deployment.run, deployment.record) == []
