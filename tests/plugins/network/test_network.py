"""Network plugin: private subnets with routes to every service the Lambdas call, no NAT."""

from __future__ import annotations

import json

import pytest

from payments_platform.core import keys
from payments_platform.core.errors import ConfigError
from payments_platform.core.testing import assert_resource, synth


@pytest.fixture(scope="module")
def stack():
    return synth(["network"])


def _ref(body: dict) -> str:
    return "${aws_route_table." + body["//"]["metadata"]["uniqueId"] + ".id}"


def test_vpc_has_dns_support_and_hostnames(stack):
    assert_resource(
        stack, "aws_vpc", {"cidr_block": "10.40.0.0/16", "enable_dns_support": True, "enable_dns_hostnames": True}
    )


def test_private_subnets_span_two_azs_without_public_ips(stack):
    private = [b for b in stack.resources("aws_subnet").values() if b["tags"]["tier"] == "private"]
    assert len(private) == 2
    (azs_id,) = stack.data_sources("aws_availability_zones")
    assert {b["availability_zone"] for b in private} == {
        f"${{element(data.aws_availability_zones.{azs_id}.names, {i})}}" for i in (0, 1)
    }
    assert all(b["map_public_ip_on_launch"] is False for b in private)


def test_there_is_no_nat_gateway(stack):
    assert "aws_nat_gateway" not in stack.resource_types()


def test_gateway_endpoints_reach_private_and_public_route_tables(stack):
    tables = stack.resources("aws_route_table")
    all_refs = {_ref(body) for body in tables.values()}
    assert len(all_refs) == 3  # one public, one private per AZ
    gateways = [b for b in stack.resources("aws_vpc_endpoint").values() if b["vpc_endpoint_type"] == "Gateway"]
    assert sorted(b["service_name"] for b in gateways) == [
        "com.amazonaws.us-east-1.dynamodb",
        "com.amazonaws.us-east-1.s3",
    ]
    for endpoint in gateways:
        assert set(endpoint["route_table_ids"]) == all_refs


def test_interface_endpoints_use_private_dns_in_private_subnets(stack):
    interfaces = {
        b["service_name"]: b
        for b in stack.resources("aws_vpc_endpoint").values()
        if b["vpc_endpoint_type"] == "Interface"
    }
    assert sorted(interfaces) == [f"com.amazonaws.us-east-1.{s}" for s in ("secretsmanager", "sns", "sqs", "xray")]
    for endpoint in interfaces.values():
        assert endpoint["private_dns_enabled"] is True
        assert len(endpoint["subnet_ids"]) == 2


def test_lambda_security_group_allows_only_https_egress(stack):
    rules = stack.resources("aws_vpc_security_group_egress_rule").values()
    assert len(rules) == 3
    for rule in rules:
        assert (rule["ip_protocol"], rule["from_port"], rule["to_port"]) == ("tcp", 443, 443)
        assert rule["description"]
        assert "cidr_ipv4" not in rule  # only endpoints, never 0.0.0.0/0


def test_security_groups_have_no_inline_rules_and_every_rule_a_description(stack):
    for sg in stack.resources("aws_security_group").values():
        assert "ingress" not in sg and "egress" not in sg and sg["description"]
    for rule in stack.resources("aws_vpc_security_group_ingress_rule").values():
        assert rule["description"] and rule["from_port"] == 443


def test_default_security_group_is_locked_down(stack):
    (default_sg,) = stack.resources("aws_default_security_group").values()
    assert default_sg["ingress"] == [] and default_sg["egress"] == []


def test_flow_logs_go_to_an_encrypted_log_group(stack):
    (flow,) = stack.resources("aws_flow_log").values()
    assert flow["traffic_type"] == "ALL" and flow["log_destination_type"] == "cloud-watch-logs"
    (group,) = stack.resources("aws_cloudwatch_log_group").values()
    assert group["name"] == "/aws/vpc/flow-logs-test"
    assert group["kms_key_id"].startswith("${aws_kms_key.") and group["retention_in_days"] == 30


def test_flow_logs_may_assume_their_role_only_for_this_accounts_flow_logs(stack):
    (caller_id,) = stack.data_sources("aws_caller_identity")
    account = f"${{data.aws_caller_identity.{caller_id}.account_id}}"
    role = stack.one("aws_iam_role", name="vpc-flow-logs-role-test")
    (trust,) = json.loads(role["assume_role_policy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    (source_arn,) = trust["Condition"]["ArnLike"].values()
    assert source_arn.endswith(f":ec2:us-east-1:{account}:vpc-flow-log/*")


def test_flow_log_role_may_only_write_its_log_group(stack):
    (statement,) = stack.iam_statements("vpc-flow-logs")
    assert statement["Action"] == ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    assert all(r.startswith("${aws_cloudwatch_log_group.network_flow_log_group") for r in statement["Resource"])


def test_network_is_published_for_other_plugins(stack):
    network = stack.built.build.values[keys.NETWORK.name][0]
    assert len(network.private_subnet_ids) == 2
    tokens = (*network.private_subnet_ids, network.lambda_security_group_id, network.vpc_id)
    assert len(set(tokens)) == 4 and all(t.startswith("${TfToken[") for t in tokens)


def test_names_and_tags_follow_the_platform_convention(stack):
    (vpc,) = stack.resources("aws_vpc").values()
    assert vpc["tags"]["Name"] == "vpc-test" and vpc["tags"]["environment-suffix"] == "test"


def test_three_azs_when_configured():
    stack = synth(
        ["network"],
        settings={
            "network": {
                "availability_zones": 3,
                "vpc_cidr": "10.9.0.0/16",
                "zone_ids": ["use1-az1", "use1-az2", "use1-az4"],
            }
        },
    )
    private = [b for b in stack.resources("aws_subnet").values() if b["tags"]["tier"] == "private"]
    assert sorted(b["cidr_block"] for b in private) == ["10.9.0.0/20", "10.9.16.0/20", "10.9.32.0/20"]


def test_zone_ids_pin_the_availability_zones():
    stack = synth(
        ["network"],
        settings={
            "network": {
                "availability_zones": 3,
                "vpc_cidr": "10.9.0.0/16",
                "zone_ids": ["use1-az1", "use1-az2", "use1-az4"],
            }
        },
    )
    (azs,) = stack.data_sources("aws_availability_zones").values()
    assert azs["filter"] == [{"name": "zone-id", "values": ["use1-az1", "use1-az2", "use1-az4"]}]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"availability_zones": 1}, "availability_zones"),
        ({"vpc_cidr": "10.0.0.0/8"}, "vpc_cidr"),
        ({"vpc_cidr": "not-a-cidr"}, "vpc_cidr"),
        ({"interface_endpoints": ["sqs", "sqs"]}, "interface_endpoints"),
        ({"flow_log_retention_days": 31}, "flow_log_retention_days"),
        ({"zone_ids": ["us-east-1a", "use1-az2"]}, "zone_ids"),
    ],
)
def test_invalid_settings_name_the_plugin_and_setting(settings, message):
    with pytest.raises(ConfigError, match=rf"plugin 'network', setting '{message}'"):
        synth(["network"], settings={"network": settings}, cache=False)


def test_zone_ids_must_match_the_number_of_azs():
    with pytest.raises(ConfigError, match="zone_ids lists 1 zones; availability_zones is 2"):
        synth(["network"], settings={"network": {"zone_ids": ["use1-az1"]}}, cache=False)
