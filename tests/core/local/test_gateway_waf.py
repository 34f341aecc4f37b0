"""The local gateway honours the WAF web ACL associated with its stage: per-IP rate rules block
with API Gateway's WAF_FILTERED answer (403), count-mode rules never block, and the web ACL is
read back from the emulator's WAFv2 API (moto in-process here; tests/e2e deploys one for real)."""

from __future__ import annotations

import json

import boto3
import pytest
from local_support import KEY_VALUE, RecordingInvoker, call, deployed_api
from moto import mock_aws

from payments_platform.core.local.apigw.deployed_api import read_deployed_api
from payments_platform.core.local.apigw.gateway import LocalGateway
from payments_platform.core.local.apigw.web_acl import (
    DeployedWebAcl,
    DeployedWebAclError,
    RateLimiter,
    RateRule,
    read_web_acl,
    stage_arn,
)

HEADERS = {"x-api-key": KEY_VALUE, "content-type": "application/json"}
BODY = json.dumps({"amount": 5}).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def acl(*rules: RateRule, not_emulated: tuple[str, ...] = ()) -> DeployedWebAcl:
    return DeployedWebAcl(
        "payments-api-waf-test", "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/x/1", rules, not_emulated
    )


def gateway(web_acl: DeployedWebAcl, clock: Clock) -> tuple[LocalGateway, RecordingInvoker]:
    invoker = RecordingInvoker()
    return LocalGateway(deployed_api(web_acl=web_acl), invoker, clock=clock), invoker


def post(app: LocalGateway, client: str = "10.0.0.1"):
    return call(app, "POST", "/prod/transactions", headers=HEADERS, body=BODY, client=client)


# --------------------------------------------------------------------------- the gateway


def test_requests_over_the_rate_limit_get_403_waf_filtered_and_never_reach_the_function():
    app, invoker = gateway(acl(RateRule("per-ip-rate", 2, limit=3, window_seconds=300, blocks=True)), Clock())
    assert [post(app).status for _ in range(3)] == [200, 200, 200]
    blocked = post(app)
    assert blocked.status == 403
    assert blocked.headers["x-amzn-errortype"] == "ForbiddenException"
    assert blocked.json()["error"]["code"] == "waf_filtered"  # the deployed WAF_FILTERED gateway response
    assert blocked.json()["error"]["message"] == "Forbidden"
    assert len(invoker.events) == 3


def test_the_rate_limit_is_per_client_ip():
    app, _ = gateway(acl(RateRule("per-ip-rate", 2, limit=1, window_seconds=300, blocks=True)), Clock())
    assert post(app, "10.0.0.1").status == 200
    assert post(app, "10.0.0.1").status == 403
    assert post(app, "10.0.0.2").status == 200


def test_a_blocked_ip_is_served_again_once_its_requests_leave_the_window():
    clock = Clock()
    app, _ = gateway(acl(RateRule("per-ip-rate", 2, limit=2, window_seconds=60, blocks=True)), clock)
    assert [post(app).status for _ in range(3)] == [200, 200, 403]
    clock.now += 61
    assert post(app).status == 200


def test_a_count_mode_rate_rule_never_blocks():
    app, invoker = gateway(acl(RateRule("per-ip-rate", 2, limit=1, window_seconds=300, blocks=False)), Clock())
    assert {post(app).status for _ in range(5)} == {200}
    assert len(invoker.events) == 5


def test_waf_filters_before_routing_so_unknown_paths_count_too():
    app, _ = gateway(acl(RateRule("per-ip-rate", 2, limit=1, window_seconds=300, blocks=True)), Clock())
    assert (
        call(app, "GET", "/prod/nowhere", client="10.0.0.1").headers["x-amzn-errortype"]
        == "MissingAuthenticationTokenException"
    )
    assert call(app, "GET", "/prod/nowhere", client="10.0.0.1").headers["x-amzn-errortype"] == "ForbiddenException"


def test_a_block_by_an_earlier_rule_is_not_counted_by_a_later_one():
    clock = Clock()
    limiter = RateLimiter(acl(RateRule("tight", 1, 1, 10, True), RateRule("loose", 2, 2, 300, True)), clock)
    assert [limiter.blocking_rule("10.0.0.1") for _ in range(3)] == [None, "tight", "tight"]
    clock.now += 11  # tight's window is empty again; loose saw one request, not three
    assert limiter.blocking_rule("10.0.0.1") is None


def test_the_gateway_says_which_rules_it_emulates_and_which_requests_pass_unchecked():
    limiter = RateLimiter(acl(RateRule("per-ip-rate", 0, 10, 60, False), not_emulated=("aws-common",)))
    assert limiter.describe() == {
        "web_acl": "payments-api-waf-test",
        "emulated": ["per-ip-rate (10/60s per IP, count)"],
        "not_emulated": ["aws-common"],
    }


def test_without_a_web_acl_nothing_is_rate_filtered():
    app = LocalGateway(deployed_api(), RecordingInvoker())
    assert app.waf is None
    assert {post(app).status for _ in range(20)} == {200}


# --------------------------------------------------------------------------- reading it back


def _deploy(wafv2, apigateway, *, rate_action: str = "Block") -> str:
    api_id = apigateway.create_rest_api(name="payments-api-test")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(
        restApiId=api_id,
        resourceId=root,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigateway.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200")
    apigateway.create_deployment(restApiId=api_id, stageName="prod")
    visibility = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
    summary = wafv2.create_web_acl(
        Name="payments-api-waf-test",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig=visibility,
        Rules=[
            {
                "Name": "aws-common",
                "Priority": 0,
                "OverrideAction": {"None": {}},
                "VisibilityConfig": visibility,
                "Statement": {
                    "ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}
                },
            },
            {
                "Name": "per-ip-rate",
                "Priority": 2,
                "Action": {rate_action: {}},
                "VisibilityConfig": visibility,
                "Statement": {
                    "RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP", "EvaluationWindowSec": 60}
                },
            },
        ],
    )["Summary"]
    wafv2.associate_web_acl(WebACLArn=summary["ARN"], ResourceArn=stage_arn("us-east-1", api_id, "prod"))
    return api_id


@pytest.fixture
def clients():
    with mock_aws():
        yield boto3.client("wafv2", region_name="us-east-1"), boto3.client("apigateway", region_name="us-east-1")


def test_the_deployed_web_acl_is_read_from_the_stage_association(clients):
    wafv2, apigateway = clients
    _deploy(wafv2, apigateway)
    api = read_deployed_api(apigateway, api_name="payments-api-test", wafv2=wafv2)
    assert api.web_acl is not None
    assert api.web_acl.rate_rules == (RateRule("per-ip-rate", 2, limit=100, window_seconds=60, blocks=True),)
    assert api.web_acl.not_emulated == ("aws-common",)


def test_a_count_action_is_read_as_not_blocking(clients):
    wafv2, apigateway = clients
    _deploy(wafv2, apigateway, rate_action="Count")
    (rule,) = read_deployed_api(apigateway, api_name="payments-api-test", wafv2=wafv2).web_acl.rate_rules
    assert rule.blocks is False


def test_a_stage_without_a_web_acl_reads_none(clients):
    wafv2, apigateway = clients
    api_id = apigateway.create_rest_api(name="other")["id"]
    assert read_web_acl(wafv2, stage_arn("us-east-1", api_id, "prod")) is None


def test_a_default_block_action_is_refused_with_the_web_acl_named():
    class Wafv2:
        def get_web_acl_for_resource(self, ResourceArn):
            return {"WebACL": {"Name": "strict", "ARN": "arn", "DefaultAction": {"Block": {}}, "Rules": []}}

    with pytest.raises(DeployedWebAclError, match="web ACL strict: only a default action of Allow"):
        read_web_acl(Wafv2(), "arn:aws:apigateway:us-east-1::/restapis/a/stages/prod")
