"""End to end: an environment with the waf extension enabled, applied to the emulator with real
Terraform and the real AWS provider, read back by the local gateway, re-planned, destroyed.

A small in-process plugin stands in for the api plugin: a REST API with one MOCK method and its
stage, published as ``keys.REST_API`` from the stage resource exactly as the api plugin does, so
this is about the WAF (and the provider talking to the emulator's WAFv2 API), not the payment
API. Tests run in file order.

Run alone: .venv/bin/python -m pytest tests/e2e/test_waf_deployment.py -q
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from e2e_support import DUMMY_CREDENTIALS, REGION, TIMINGS, output_tail

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.environment import EnvironmentConfig, RegionPlan
from payments_platform.core.host.synth import synthesize
from payments_platform.core.local.apigw.deployed_api import read_deployed_api
from payments_platform.core.local.apigw.gateway import LocalGateway
from payments_platform.core.local.apigw.web_acl import RateRule, stage_arn
from payments_platform.core.ops.terraform import Terraform

pytestmark = pytest.mark.terraform

SUFFIX = "wafe2e"
RATE_LIMIT = 10
TERRAFORM_TIMEOUT_S = 300


class MiniApi:
    """A REST API with a MOCK GET / and a stage, published like the api plugin publishes its own."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="miniapi",
            description="a one-method REST API for the WAF test",
            provides=(keys.REST_API,),
            emulated_services=("apigateway",),
        )

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        from payments_platform.core.cdktf_adapter import aws

        api = aws.api_gateway_rest_api.ApiGatewayRestApi(ctx.scope, "api", name=ctx.naming.name("payments-api"))
        method = aws.api_gateway_method.ApiGatewayMethod(
            ctx.scope,
            "get",
            rest_api_id=api.id,
            resource_id=api.root_resource_id,
            http_method="GET",
            authorization="NONE",
        )
        integration = aws.api_gateway_integration.ApiGatewayIntegration(
            ctx.scope,
            "mock",
            rest_api_id=api.id,
            resource_id=api.root_resource_id,
            http_method=method.http_method,
            type="MOCK",
            request_templates={"application/json": '{"statusCode": 200}'},
        )
        aws.api_gateway_method_response.ApiGatewayMethodResponse(
            ctx.scope,
            "ok",
            rest_api_id=api.id,
            resource_id=api.root_resource_id,
            http_method=method.http_method,
            status_code="200",
        )
        response = aws.api_gateway_integration_response.ApiGatewayIntegrationResponse(
            ctx.scope,
            "mock_ok",
            rest_api_id=api.id,
            resource_id=api.root_resource_id,
            http_method=method.http_method,
            status_code="200",
            depends_on=[integration],
        )
        deployment = aws.api_gateway_deployment.ApiGatewayDeployment(
            ctx.scope, "deployment", rest_api_id=api.id, depends_on=[integration, response]
        )
        stage = aws.api_gateway_stage.ApiGatewayStage(
            ctx.scope, "stage", rest_api_id=api.id, deployment_id=deployment.id, stage_name="prod"
        )
        ctx[keys.REST_API] = keys.RestApi(
            name=api.name,
            rest_api_id=api.id,
            arn=api.arn,
            stage_name=stage.stage_name,
            stage_arn=stage.arn,
            execution_arn=api.execution_arn,
            invoke_url=stage.invoke_url,
            usage_plan_id="",
        )


class Deployed:
    def __init__(self, endpoint: str, terraform: Terraform, stack_dir: Path) -> None:
        self.endpoint, self.terraform, self.stack_dir = endpoint, terraform, stack_dir
        self.destroyed = False

    def client(self, service: str) -> Any:
        return boto3.session.Session(region_name=REGION, **DUMMY_CREDENTIALS).client(
            service, endpoint_url=self.endpoint
        )

    def terraform_ok(self, *args: str) -> None:
        result = self.terraform.run([*args, "-input=false", "-no-color"], self.stack_dir, timeout=TERRAFORM_TIMEOUT_S)
        assert result.returncode == 0, f"terraform {args[0]} failed:\n{output_tail(result)}"

    def stage_arn(self) -> str:
        (api,) = [
            a for a in self.client("apigateway").get_rest_apis()["items"] if a["name"] == f"payments-api-{SUFFIX}"
        ]
        return stage_arn(REGION, api["id"], "prod")


@pytest.fixture(scope="module")
def deployed(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("waf")
    env = EnvironmentConfig(
        name=SUFFIX,
        suffix=SUFFIX,
        regions=RegionPlan(REGION),
        plugins=("miniapi", "waf"),
        settings={"waf": {"rate_limit": RATE_LIMIT, "rate_window_seconds": 60}},
        aws_endpoint=moto_endpoint,
    )
    result = synthesize([env], root / "cdktf.out", extra_plugins={"miniapi": MiniApi()})
    stack_dir = Path(result.stacks[env.stack_name])
    terraform = Terraform.locate(root)
    terraform.init(stack_dir, backend=True)
    deployed = Deployed(moto_endpoint, terraform, stack_dir)
    started = time.perf_counter()
    deployed.terraform_ok("apply", "-auto-approve")
    TIMINGS["waf apply"] = time.perf_counter() - started
    try:
        yield deployed
    finally:
        if not deployed.destroyed:  # test_destroy_leaves_no_web_acl did not run
            deployed.terraform.run(
                ["destroy", "-auto-approve", "-input=false", "-no-color"], stack_dir, timeout=TERRAFORM_TIMEOUT_S
            )


def test_the_web_acl_is_associated_with_the_stage_with_every_rule(deployed):
    acl = deployed.client("wafv2").get_web_acl_for_resource(ResourceArn=deployed.stage_arn())["WebACL"]
    assert acl["Name"] == f"payments-api-waf-{SUFFIX}"
    assert [rule["Name"] for rule in sorted(acl["Rules"], key=lambda r: r["Priority"])] == [
        "per-ip-rate",
        "aws-common",
        "aws-known-bad-inputs",
    ]


def test_the_waf_log_is_configured_with_credential_headers_redacted(deployed):
    wafv2, logs = deployed.client("wafv2"), deployed.client("logs")
    acl = wafv2.get_web_acl_for_resource(ResourceArn=deployed.stage_arn())["WebACL"]
    logging = wafv2.get_logging_configuration(ResourceArn=acl["ARN"])["LoggingConfiguration"]
    assert {field["SingleHeader"]["Name"] for field in logging["RedactedFields"]} == {"authorization", "x-api-key"}
    (group,) = logs.describe_log_groups(logGroupNamePrefix="aws-waf-logs-")["logGroups"]
    assert logging["LogDestinationConfigs"] == [group["arn"].removesuffix(":*")]
    assert group["logGroupName"] == f"aws-waf-logs-payments-api-{SUFFIX}" and group["kmsKeyId"]


def test_the_local_gateway_reads_the_deployed_rate_rule_and_blocks_over_it(deployed):
    api = read_deployed_api(
        deployed.client("apigateway"), api_name=f"payments-api-{SUFFIX}", wafv2=deployed.client("wafv2")
    )
    assert api.web_acl is not None
    assert api.web_acl.rate_rules == (RateRule("per-ip-rate", 0, RATE_LIMIT, 60, blocks=True),)
    assert api.web_acl.not_emulated == ("aws-common", "aws-known-bad-inputs")
    gateway = LocalGateway(api, invoke=None)  # type: ignore[arg-type]  # MOCK only: nothing is invoked
    assert [gateway.waf.blocking_rule("10.1.1.1") for _ in range(RATE_LIMIT + 1)][-2:] == [None, "per-ip-rate"]


def test_a_second_plan_sees_no_changes(deployed):
    result = deployed.terraform.run(
        ["plan", "-detailed-exitcode", "-input=false", "-no-color"], deployed.stack_dir, timeout=TERRAFORM_TIMEOUT_S
    )
    assert result.returncode == 0, (
        f"the emulator reads the WAF back differently from what was applied:\n{output_tail(result)}"
    )


def test_destroy_leaves_no_web_acl(deployed):
    deployed.terraform_ok("destroy", "-auto-approve")
    deployed.destroyed = True
    assert deployed.client("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"] == []
    assert json.loads(deployed.terraform.run(["show", "-json"], deployed.stack_dir).stdout).get("values") is None
