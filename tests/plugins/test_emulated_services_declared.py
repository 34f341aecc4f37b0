"""Each of our plugins declares every AWS service its resources call (PluginDeclaration.
emulated_services), so the local emulator serves them all: a forgotten one would send
`local up`'s Terraform to real AWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from payments_platform.core.host.config import load_config
from payments_platform.core.host.foundation import EMULATED_SERVICES
from payments_platform.core.testing import synth

REPO = Path(__file__).resolve().parents[2]

# Terraform type prefix → the AWS provider's endpoints key (longest prefix wins).
SERVICE_OF_TYPE = {
    "aws_api_gateway_": "apigateway",
    "aws_availability_zones": "ec2",
    "aws_caller_identity": "sts",
    "aws_cloudwatch_dashboard": "cloudwatch",
    "aws_cloudwatch_log_": "logs",
    "aws_cloudwatch_metric_alarm": "cloudwatch",
    "aws_default_security_group": "ec2",
    "aws_dynamodb_": "dynamodb",
    "aws_flow_log": "ec2",
    "aws_iam_": "iam",
    "aws_internet_gateway": "ec2",
    "aws_kinesis_firehose_": "firehose",
    "aws_kms_": "kms",
    "aws_lambda_": "lambda",
    "aws_partition": "",  # answered by the provider itself
    "aws_route": "ec2",
    "aws_s3_": "s3",
    "aws_scheduler_": "scheduler",
    "aws_secretsmanager_": "secretsmanager",
    "aws_security_group": "ec2",
    "aws_signer_": "signer",
    "aws_sns_": "sns",
    "aws_sqs_": "sqs",
    "aws_subnet": "ec2",
    "aws_vpc": "ec2",
    "aws_wafv2_": "wafv2",
}


def service_of(resource_type: str) -> str:
    prefixes = [p for p in SERVICE_OF_TYPE if resource_type.startswith(p)]
    assert prefixes, f"{resource_type}: which AWS service does it call? Add it to SERVICE_OF_TYPE"
    return SERVICE_OF_TYPE[max(prefixes, key=len)]


@pytest.fixture(scope="module")
def prod():
    """Every plugin, code signing on: the most services any environment calls."""
    (environment,) = load_config(REPO / "environments.toml").select(["prod"])
    return synth([], environment=environment)


def services_by_plugin(stack) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for section in ("resource", "data"):
        for resource_type, items in (stack.config.get(section) or {}).items():
            for body in items.values():
                plugin = body["//"]["metadata"]["path"].split("/")[1]
                found.setdefault(plugin, set()).add(service_of(resource_type))
    return {plugin: services - {""} for plugin, services in found.items()}


def test_every_service_a_plugins_resources_call_is_declared(prod):
    manager = prod.built.manager
    missing = {
        plugin: sorted(services - set(EMULATED_SERVICES) - set(manager.declaration(plugin).emulated_services))
        for plugin, services in services_by_plugin(prod).items()
        if plugin != "platform"
    }
    assert {plugin: services for plugin, services in missing.items() if services} == {}


def test_the_core_emulates_what_it_calls_itself(prod):
    assert services_by_plugin(prod)["platform"] | {"iam"} == set(EMULATED_SERVICES)
