"""Network plugin: the VPC the Lambdas run in, with no route to the internet from it.

Provides ``keys.NETWORK``. Private subnets in ≥ 2 AZs route to DynamoDB and S3 through
gateway endpoints, and reach SQS, SNS, X-Ray and Secrets Manager through interface endpoints with private
DNS. Public subnets and their route table exist as the seed describes (the gateway endpoints are
associated with it too); nothing of the platform's runs there.

    foundation  VPC, subnets, security groups, gateway and configured interface endpoints, flow
                logs; publishes keys.NETWORK (with its NetworkNeeds: what plugins will ask)
    finalize    what plugins asked through keys.NETWORK (egress.py): the interface endpoint of each
                service functions call, and for functions that declared egress -- and only then --
                a NAT gateway per AZ in the public subnets, private egress subnets routed to them,
                and each such function's own security group allowing its declared ports only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from payments_platform.core import Fn, PluginContext, PluginDeclaration, aws, hookimpl, keys

from .requested import FoundationParts, build_requested, interface_endpoint
from .settings import GATEWAY_ENDPOINTS, NetworkSettings

HTTPS = 443


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="network",
        description="VPC, private subnets, Lambda security group, flow logs and VPC endpoints",
        provides=(keys.NETWORK,),
        settings=NetworkSettings,
        emulated_services=("ec2", "logs"),  # VPC, endpoints and flow log; the flow-log group
    )


@hookimpl
def payments_foundation(ctx: PluginContext) -> None:
    settings: NetworkSettings = ctx.settings
    vpc = aws.vpc.Vpc(
        ctx.scope,
        "vpc",
        cidr_block=settings.vpc_cidr,
        enable_dns_support=True,
        enable_dns_hostnames=True,  # required for interface endpoints' private DNS
        tags={"Name": ctx.naming.name("vpc")},
    )
    # Lock down the default security group: nothing may use it by accident (CIS 5.4).
    default_sg = aws.default_security_group.DefaultSecurityGroup(
        ctx.scope, "default_sg", vpc_id=vpc.id, ingress=[], egress=[], tags={"Name": ctx.naming.name("default-sg")}
    )
    subnets = _subnets(ctx, settings, vpc)
    groups = _security_groups(ctx, vpc)
    gateway_endpoints, endpoint_egress = _endpoints(ctx, settings, vpc, subnets, groups)
    egress_rules = [groups.lambda_to_endpoints, *endpoint_egress]
    _flow_logs(ctx, vpc, ctx[keys.KMS_KEY], settings)
    _register_evidence(ctx, default_sg, subnets.private, groups.endpoint_in, egress_rules)

    network = keys.Network(
        vpc_id=vpc.id,
        vpc_cidr=settings.vpc_cidr,
        private_subnet_ids=tuple(s.id for s in subnets.private),
        public_subnet_ids=tuple(s.id for s in subnets.public),
        lambda_security_group_id=groups.lambda_sg.id,
        private_route_table_ids=tuple(rt.id for rt in subnets.private_route_tables),
        endpoint_security_group_id=groups.endpoint_sg.id,
    )
    ctx[keys.NETWORK] = network
    ctx.outputs.add("vpc_id", vpc.id, description="VPC the payment Lambdas run in")
    ctx.stash["parts"] = FoundationParts(
        network=network,
        vpc=vpc,
        azs=subnets.azs,
        public_subnets=subnets.public,
        internet_gateway=subnets.internet_gateway,
        gateway_endpoints=gateway_endpoints,
        gateway_route_table_ids=[subnets.public_route_table.id, *[rt.id for rt in subnets.private_route_tables]],
        lambda_sg=groups.lambda_sg,
        endpoint_sg=groups.endpoint_sg,
    )


@hookimpl
def payments_finalize(ctx: PluginContext) -> None:
    build_requested(ctx, ctx.settings, ctx.stash.pop("parts"))


@dataclass
class _Subnets:
    private: list[Any] = field(default_factory=list)
    public: list[Any] = field(default_factory=list)
    private_route_tables: list[Any] = field(default_factory=list)
    public_route_table: Any = None
    azs: Any = None  # the availability zones data source (names in subnet order)
    internet_gateway: Any = None


def _subnets(ctx: PluginContext, settings: NetworkSettings, vpc: Any) -> _Subnets:
    """A private and a public subnet per availability zone; the public ones share a route table
    to the internet gateway, each private one has its own route table (no default route)."""
    scope = ctx.scope
    azs = aws.data_aws_availability_zones.DataAwsAvailabilityZones(
        scope,
        "azs",
        state="available",
        filter=[{"name": "zone-id", "values": list(settings.zone_ids)}] if settings.zone_ids else None,
    )
    private_cidrs, public_cidrs = settings.subnet_cidrs()
    igw = aws.internet_gateway.InternetGateway(scope, "igw", vpc_id=vpc.id, tags={"Name": ctx.naming.name("igw")})
    public_rt = aws.route_table.RouteTable(
        scope, "public_rt", vpc_id=vpc.id, tags={"Name": ctx.naming.name("public-rt")}
    )
    aws.route.Route(
        scope,
        "public_default_route",
        route_table_id=public_rt.id,
        destination_cidr_block="0.0.0.0/0",
        gateway_id=igw.id,
    )
    subnets = _Subnets(public_route_table=public_rt, azs=azs, internet_gateway=igw)
    for index, (private_cidr, public_cidr) in enumerate(zip(private_cidrs, public_cidrs)):
        az = Fn.element(azs.names, index)
        letter = "abcd"[index]
        private, public = (
            aws.subnet.Subnet(
                scope,
                f"{tier}_subnet_{letter}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={"Name": ctx.naming.name(f"{tier}-{letter}"), "tier": tier},
            )
            for tier, cidr in (("private", private_cidr), ("public", public_cidr))
        )
        route_table = aws.route_table.RouteTable(
            scope, f"private_rt_{letter}", vpc_id=vpc.id, tags={"Name": ctx.naming.name(f"private-rt-{letter}")}
        )
        aws.route_table_association.RouteTableAssociation(
            scope, f"private_rta_{letter}", subnet_id=private.id, route_table_id=route_table.id
        )
        aws.route_table_association.RouteTableAssociation(
            scope, f"public_rta_{letter}", subnet_id=public.id, route_table_id=public_rt.id
        )
        subnets.private.append(private)
        subnets.public.append(public)
        subnets.private_route_tables.append(route_table)
    return subnets


@dataclass
class _SecurityGroups:
    lambda_sg: Any
    endpoint_sg: Any
    endpoint_in: Any  # the endpoints' one ingress rule: HTTPS from the functions
    lambda_to_endpoints: Any  # the functions' egress rule to the interface endpoints


def _security_groups(ctx: PluginContext, vpc: Any) -> _SecurityGroups:
    """The functions' and the interface endpoints' groups: HTTPS between them, nothing else."""
    scope = ctx.scope
    lambda_sg, endpoint_sg = (
        aws.security_group.SecurityGroup(
            scope,
            construct_id,
            name=ctx.naming.name(base_name),
            vpc_id=vpc.id,
            description=description,
            tags={"Name": ctx.naming.name(base_name)},
            revoke_rules_on_delete=True,
        )
        for construct_id, base_name, description in (
            ("lambda_sg", "payments-lambda-sg", "Payment Lambdas: HTTPS egress to VPC endpoints only"),
            ("endpoint_sg", "vpc-endpoints-sg", "Interface VPC endpoints: HTTPS from the payment Lambdas only"),
        )
    )
    endpoint_in = aws.vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule(
        scope,
        "endpoint_sg_in_https",
        security_group_id=endpoint_sg.id,
        referenced_security_group_id=lambda_sg.id,
        ip_protocol="tcp",
        from_port=HTTPS,
        to_port=HTTPS,
        description="HTTPS from the payment Lambdas",
    )
    lambda_out = aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
        scope,
        "lambda_sg_out_endpoints",
        security_group_id=lambda_sg.id,
        referenced_security_group_id=endpoint_sg.id,
        ip_protocol="tcp",
        from_port=HTTPS,
        to_port=HTTPS,
        description="HTTPS to interface VPC endpoints (SQS, SNS, X-Ray, Secrets Manager)",
    )
    return _SecurityGroups(lambda_sg, endpoint_sg, endpoint_in, lambda_out)


def _endpoints(
    ctx: PluginContext, settings: NetworkSettings, vpc: Any, subnets: _Subnets, groups: _SecurityGroups
) -> tuple[dict[str, Any], list[Any]]:
    """The gateway endpoints (with the functions' egress rule to each one's prefix list) and the
    interface endpoints with private DNS; returns the gateway endpoints and those egress rules."""
    scope = ctx.scope
    egress_rules = []
    gateways = {}
    all_route_tables = [subnets.public_route_table.id, *[rt.id for rt in subnets.private_route_tables]]
    for service in GATEWAY_ENDPOINTS:
        # Associated with the public route table (as the seed asks) AND the private ones:
        # without the latter the Lambdas in private subnets would have no route.
        endpoint = aws.vpc_endpoint.VpcEndpoint(
            scope,
            f"{service}_gateway_endpoint",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{ctx.aws.region}.{service}",
            vpc_endpoint_type="Gateway",
            route_table_ids=all_route_tables,
            tags={"Name": ctx.naming.name(f"{service}-endpoint")},
        )
        gateways[service] = endpoint
        egress_rules.append(
            aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
                scope,
                f"lambda_sg_out_{service}",
                security_group_id=groups.lambda_sg.id,
                prefix_list_id=endpoint.prefix_list_id,
                ip_protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                description=f"HTTPS to {service} through its gateway endpoint",
            )
        )
    for service in sorted(settings.interface_endpoints):
        interface_endpoint(ctx, service, vpc.id, [s.id for s in subnets.private], groups.endpoint_sg.id)
    return gateways, egress_rules


def _register_evidence(
    ctx: PluginContext, default_sg: Any, private_subnets: list[Any], endpoint_in: Any, egress_rules: list[Any]
) -> None:
    evidence = ctx.compliance.evidence
    evidence(
        "1.3.1",
        default_sg,
        expect={"ingress": [], "egress": []},
        note="the VPC's default security group allows nothing, so no resource is open by accident",
    )
    for subnet in private_subnets:
        evidence(
            "1.3.1",
            subnet,
            expect={"map_public_ip_on_launch": False},
            attributes=("cidr_block",),
            note="the Lambdas run in private subnets: no public addresses, no route from the internet",
        )
    evidence(
        "1.3.1",
        endpoint_in,
        expect={"from_port": HTTPS, "to_port": HTTPS},
        attributes=("referenced_security_group_id",),
        note="the only ingress rule: VPC endpoints accept HTTPS from the Lambdas' security group alone",
    )
    for rule in egress_rules:
        evidence(
            "1.3.2",
            rule,
            expect={"from_port": HTTPS, "to_port": HTTPS, "ip_protocol": "tcp"},
            attributes=("description",),
            note="the Lambdas' only egress: HTTPS to AWS service endpoints inside the VPC (no NAT, no internet)",
        )


def _flow_logs(ctx: PluginContext, vpc: Any, kms: keys.KmsKey, settings: NetworkSettings) -> None:
    """VPC flow logs (PCI DSS 10.2) to a KMS-encrypted log group."""
    scope = ctx.scope
    log_group = aws.cloudwatch_log_group.CloudwatchLogGroup(
        scope,
        "flow_log_group",
        name=f"/aws/vpc/{ctx.naming.name('flow-logs')}",
        retention_in_days=settings.flow_log_retention_days,
        kms_key_id=kms.arn,
    )
    role = ctx.roles.role(
        "vpc-flow-logs",
        service="vpc-flow-logs.amazonaws.com",
        description="Delivers VPC flow logs to CloudWatch Logs",
        # Confused-deputy guard (AWS's documented flow-log trust): this account's flow logs only.
        trust_conditions={
            "StringEquals": {"aws:SourceAccount": ctx.aws.account_id},
            "ArnLike": {"aws:SourceArn": ctx.aws.arn("ec2", "vpc-flow-log/*")},
        },
    )
    ctx.roles.grant(
        role,
        sid="WriteFlowLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        resources=[log_group.arn, f"{log_group.arn}:*"],
    )
    ctx.compliance.evidence(
        "10.3",
        log_group,
        attributes=("kms_key_id", "retention_in_days"),
        note="flow logs are encrypted under the platform CMK",
    )
    flow_log = aws.flow_log.FlowLog(
        scope,
        "flow_log",
        vpc_id=vpc.id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=log_group.arn,
        iam_role_arn=role.arn,
        max_aggregation_interval=60,
        tags={"Name": ctx.naming.name("flow-log")},
    )
    ctx.compliance.evidence(
        "10.2",
        flow_log,
        expect={"traffic_type": "ALL"},
        attributes=("log_destination",),
        note="every accepted and rejected connection in the VPC is logged",
    )
    # PCI DSS 10.2: network traffic records belong to the audit trail.
    ctx.monitoring.log_group("vpc-flow-logs", log_group_name=log_group.name, log_group_arn=log_group.arn)
