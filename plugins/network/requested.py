"""What plugins asked of the network through ``keys.NETWORK`` (core/network_needs.py), built in
finalize -- and nothing of it when nobody asked, so such an environment synthesizes unchanged.

* **Service endpoints**: each AWS service a plugin's functions call gets its interface endpoint in
  the private subnets (private DNS, the endpoints' security group), unless the ``interface_endpoints``
  setting built it already or it is a gateway endpoint (S3, DynamoDB).
* **Egress**, for the functions that declared it alone:

      public subnet (per AZ) ── NAT gateway + Elastic IP ── internet gateway
            ▲ 0.0.0.0/0
      egress subnet (per AZ, private: no public IPs, no route from the internet)
            │ S3/DynamoDB through the gateway endpoints, AWS APIs through the interface endpoints
      function ── security groups: the functions' group (endpoints) + its own (declared ports only)

  The egress subnets are private subnets (PP-LAMBDA-PRIVATE-SUBNETS counts them), separate from
  the ones every other function runs in, whose route tables keep no default route: a function that
  did not declare egress still has no path out, whatever its security groups say. A security group
  filters by address and port, never by host name (a name resolves to addresses that change and
  that other sites share), so ``Egress.hosts`` are not enforced here; AWS Network Firewall in the
  egress path could enforce them (TLS SNI / HTTP Host domain allow-lists) -- see
  docs/PLUGIN_AUTHORS.md "Egress".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments_platform.core import Fn, PluginContext, RegistrationError, aws, keys

from .settings import GATEWAY_ENDPOINTS, NetworkSettings

ANYWHERE = "0.0.0.0/0"


@dataclass
class FoundationParts:
    """What foundation built that finalize extends."""

    network: keys.Network
    vpc: Any
    azs: Any
    public_subnets: list[Any]
    internet_gateway: Any
    gateway_endpoints: dict[str, Any]
    gateway_route_table_ids: list[Any]
    lambda_sg: Any
    endpoint_sg: Any


def interface_endpoint(ctx: PluginContext, service: str, vpc_id: str, subnet_ids: list[str], sg_id: str) -> Any:
    """``service``'s interface endpoint with private DNS: the SDK's default host name resolves to it."""
    return aws.vpc_endpoint.VpcEndpoint(
        ctx.scope,
        f"{service.replace('.', '_')}_interface_endpoint",
        vpc_id=vpc_id,
        service_name=f"com.amazonaws.{ctx.aws.region}.{service}",
        vpc_endpoint_type="Interface",
        private_dns_enabled=True,
        subnet_ids=subnet_ids,
        security_group_ids=[sg_id],
        tags={"Name": ctx.naming.name(f"{service}-endpoint")},
    )


def build_requested(ctx: PluginContext, settings: NetworkSettings, parts: FoundationParts) -> None:
    needs = parts.network.needs
    for service, plugins in needs.services().items():
        if service in settings.interface_endpoints or service in GATEWAY_ENDPOINTS:
            continue
        endpoint = interface_endpoint(
            ctx, service, parts.vpc.id, list(parts.network.private_subnet_ids), parts.endpoint_sg.id
        )
        ctx.compliance.evidence(
            "1.3.2",
            endpoint,
            expect={"private_dns_enabled": True, "vpc_endpoint_type": "Interface"},
            attributes=("service_name",),
            note=f"{service} reached from the private subnets through its endpoint (asked by {', '.join(plugins)})",
        )
    wanted = needs.egress()
    if not wanted:
        return
    egress_subnets = _egress_path(ctx, settings, parts)
    needs.egress_subnet_ids = tuple(subnet.id for subnet in egress_subnets)
    for need in wanted:
        _place(ctx, parts, egress_subnets, need)


def _egress_path(ctx: PluginContext, settings: NetworkSettings, parts: FoundationParts) -> list[Any]:
    """Per AZ: an Elastic IP and NAT gateway in the public subnet, an egress subnet whose route
    table sends 0.0.0.0/0 to it (and S3/DynamoDB to their gateway endpoints)."""
    scope = ctx.scope
    subnets, route_tables = [], []
    for index, cidr in enumerate(settings.egress_subnet_cidrs()):
        letter = "abcd"[index]
        address = aws.eip.Eip(scope, f"nat_eip_{letter}", domain="vpc", tags={"Name": ctx.naming.name(f"nat-{letter}")})
        nat = aws.nat_gateway.NatGateway(
            scope,
            f"nat_gateway_{letter}",
            allocation_id=address.id,
            subnet_id=parts.public_subnets[index].id,
            connectivity_type="public",
            tags={"Name": ctx.naming.name(f"nat-{letter}")},
            depends_on=[parts.internet_gateway],  # a NAT gateway needs the VPC's internet gateway
        )
        subnet = aws.subnet.Subnet(
            scope,
            f"egress_subnet_{letter}",
            vpc_id=parts.vpc.id,
            cidr_block=cidr,
            availability_zone=Fn.element(parts.azs.names, index),
            map_public_ip_on_launch=False,
            tags={"Name": ctx.naming.name(f"egress-{letter}"), "tier": "egress"},
        )
        route_table = aws.route_table.RouteTable(
            scope, f"egress_rt_{letter}", vpc_id=parts.vpc.id, tags={"Name": ctx.naming.name(f"egress-rt-{letter}")}
        )
        aws.route.Route(
            scope,
            f"egress_default_route_{letter}",
            route_table_id=route_table.id,
            destination_cidr_block=ANYWHERE,
            nat_gateway_id=nat.id,
        )
        aws.route_table_association.RouteTableAssociation(
            scope, f"egress_rta_{letter}", subnet_id=subnet.id, route_table_id=route_table.id
        )
        ctx.compliance.evidence(
            "1.3.1",
            subnet,
            expect={"map_public_ip_on_launch": False},
            attributes=("cidr_block",),
            note="functions that declared egress run here: private, reaching out only through the NAT gateway",
        )
        subnets.append(subnet)
        route_tables.append(route_table)
    # The gateway endpoints manage their whole route table list: S3 and DynamoDB stay off the NAT.
    for endpoint in parts.gateway_endpoints.values():
        endpoint.route_table_ids = [*parts.gateway_route_table_ids, *(rt.id for rt in route_tables)]
    return subnets


def _place(ctx: PluginContext, parts: FoundationParts, egress_subnets: list[Any], need: Any) -> None:
    """The function's own security group (its declared ports, to any address) and its placement in
    the egress subnets, keeping the functions' group for the VPC endpoints."""
    resource = need.function.resource
    if resource is None:
        raise RegistrationError(
            f"plugin '{need.plugin}' declared egress for function '{need.key}', a handle without its resource: "
            "build it with platform_function(..., egress=...)"
        )
    scope, construct = ctx.scope, need.key.replace("-", "_")
    group = aws.security_group.SecurityGroup(
        scope,
        f"egress_sg_{construct}",
        name=ctx.naming.name(f"{need.key}-egress-sg"),
        vpc_id=parts.vpc.id,
        description=f"{need.key} ({need.plugin}): declared egress to TCP {', '.join(map(str, need.egress.ports))}",
        tags={"Name": ctx.naming.name(f"{need.key}-egress-sg")},
        revoke_rules_on_delete=True,
    )
    for port in need.egress.ports:
        rule = aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
            scope,
            f"egress_sg_{construct}_out_{port}",
            security_group_id=group.id,
            cidr_ipv4=ANYWHERE,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"declared egress of {need.key}: TCP {port}"
            + (f" ({', '.join(need.egress.hosts)})" if need.egress.hosts else ""),
        )
        ctx.compliance.evidence(
            "1.3.2",
            rule,
            expect={"from_port": port, "to_port": port, "ip_protocol": "tcp"},
            attributes=("description",),
            note=f"outbound internet traffic only for {need.key}, which declared it, on TCP {port} only",
        )
    resource.put_vpc_config(
        subnet_ids=[subnet.id for subnet in egress_subnets], security_group_ids=[parts.lambda_sg.id, group.id]
    )
