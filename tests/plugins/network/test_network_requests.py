"""What plugins ask of the network through keys.NETWORK (plugin API 1.2): interface endpoints for the
services their functions call, and internet egress for the functions that declare it -- built in
finalize, only when asked; PP-EGRESS naming a function that calls out without having declared it."""

from __future__ import annotations

from typing import Any

import pytest

from payments_platform.core import Egress, PluginDeclaration, RegistrationError, hookimpl, keys, platform_function
from payments_platform.core.testing import stub_provider, synth

STUBS = stub_provider("stubs", (keys.RUNTIME_PACKAGE,))
WEBHOOK_URL = "https://hooks.merchant.example/payments"


class Asking:
    """A third-party plugin: asks for services in ``services`` and builds functions named in
    ``functions`` (key → Egress or None), each with ``environment``."""

    def __init__(
        self,
        *,
        services: tuple[str, ...] = (),
        functions: dict[str, Egress | None] | None = None,
        environment: dict[str, str] | None = None,
        ask_in: str = "resources",
    ) -> None:
        self.services = services
        self.functions = functions or {}
        self.environment = environment or {}
        self.ask_in = ask_in

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="asking",
            description="network requests test plugin",
            requires=(keys.NETWORK, keys.RUNTIME_PACKAGE),
            emulated_services=("lambda", "logs"),
        )

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        for key, egress in sorted(self.functions.items()):
            platform_function(
                ctx,
                key.replace("-", "_"),
                key=key,
                description=key,
                role_description=key,
                package=ctx[keys.RUNTIME_PACKAGE],
                handler="payments_runtime.status.handler",
                environment=self.environment,
                reserved_concurrency=1,
                log_retention_days=30,
                egress=egress,
            )
        if self.ask_in == "resources":
            self._ask(ctx)

    @hookimpl
    def payments_finalize(self, ctx: Any) -> None:
        if self.ask_in == "finalize":
            self._ask(ctx)

    def _ask(self, ctx: Any) -> None:
        for service in self.services:
            ctx[keys.NETWORK].require_service(ctx, service)


def build(plugin: Asking) -> Any:
    return synth(["network"], extra_plugins={"stubs": STUBS, "asking": plugin}, cache=False)


def ref(stack: Any, resource_type: str, logical: str, attribute: str = "id") -> str:
    return f"${{{resource_type}.{logical}.{attribute}}}"


def by_tag(stack: Any, resource_type: str, tier: str) -> dict[str, Any]:
    return {k: b for k, b in stack.resources(resource_type).items() if (b.get("tags") or {}).get("tier") == tier}


def egress_warnings(stack: Any) -> list[str]:
    """What synth prints as warnings for this stack, PP-EGRESS lines only."""
    from payments_platform.core.host import policy

    return [w for w in policy.warnings(stack.config) if "PP-EGRESS" in w]


def function(stack: Any, key: str) -> dict[str, Any]:
    (body,) = [b for b in stack.resources("aws_lambda_function").values() if b["function_name"] == f"{key}-test"]
    return body


@pytest.fixture(scope="module")
def egress_stack() -> Any:
    return build(
        Asking(
            services=("lambda", "sqs"),
            functions={"webhook-sender": Egress(ports=(443, 8443), hosts=("hooks.merchant.example",)), "quiet": None},
        )
    )


# --------------------------------------------------------------------------- service endpoints


def test_nothing_asked_builds_no_lambda_endpoint_no_nat_and_no_egress_subnets():
    stack = build(Asking(functions={"quiet": None}))
    services = {b["service_name"] for b in stack.resources("aws_vpc_endpoint").values()}
    assert "com.amazonaws.us-east-1.lambda" not in services
    assert not {"aws_nat_gateway", "aws_eip"} & set(stack.resource_types())
    assert not by_tag(stack, "aws_subnet", "egress")


def test_an_asked_service_gets_its_interface_endpoint_in_the_private_subnets(egress_stack):
    endpoints = {b["service_name"]: b for b in egress_stack.resources("aws_vpc_endpoint").values()}
    lambda_endpoint = endpoints["com.amazonaws.us-east-1.lambda"]
    private = {ref(egress_stack, "aws_subnet", k) for k in by_tag(egress_stack, "aws_subnet", "private")}
    (endpoint_sg,) = [
        k for k, b in egress_stack.resources("aws_security_group").items() if "vpc-endpoints" in b["name"]
    ]
    assert lambda_endpoint["vpc_endpoint_type"] == "Interface" and lambda_endpoint["private_dns_enabled"] is True
    assert set(lambda_endpoint["subnet_ids"]) == private
    assert lambda_endpoint["security_group_ids"] == [ref(egress_stack, "aws_security_group", endpoint_sg)]


def test_a_service_the_settings_already_build_is_not_built_twice(egress_stack):
    names = [b["service_name"] for b in egress_stack.resources("aws_vpc_endpoint").values()]
    assert names.count("com.amazonaws.us-east-1.sqs") == 1


def test_a_request_in_finalize_is_refused_naming_the_plugin_and_the_phases():
    with pytest.raises(
        RegistrationError, match=r"plugin 'asking' called require_service\('lambda'\) in phase 'finalize'"
    ):
        build(Asking(services=("lambda",), ask_in="finalize"))


def test_a_service_name_that_is_no_endpoint_name_is_refused():
    with pytest.raises(
        RegistrationError, match="asked for the interface endpoint of 'Lambda Service', which is not an AWS service"
    ):
        build(Asking(services=("Lambda Service",)))


# --------------------------------------------------------------------------- egress


def test_egress_builds_a_nat_gateway_per_az_in_the_public_subnets(egress_stack):
    public = {ref(egress_stack, "aws_subnet", k) for k in by_tag(egress_stack, "aws_subnet", "public")}
    nats = egress_stack.resources("aws_nat_gateway").values()
    eips = egress_stack.resources("aws_eip")
    assert {n["subnet_id"] for n in nats} == public
    assert {n["allocation_id"] for n in nats} == {ref(egress_stack, "aws_eip", k) for k in eips}
    assert all(e["domain"] == "vpc" for e in eips.values())


def test_egress_subnets_are_private_and_route_only_through_the_nat(egress_stack):
    egress = by_tag(egress_stack, "aws_subnet", "egress")
    assert len(egress) == 2 and all(b["map_public_ip_on_launch"] is False for b in egress.values())
    assert sorted(b["cidr_block"] for b in egress.values()) == ["10.40.32.0/20", "10.40.48.0/20"]
    routes = [r for r in egress_stack.resources("aws_route").values() if "nat_gateway_id" in r]
    assert len(routes) == 2 and all(r["destination_cidr_block"] == "0.0.0.0/0" for r in routes)
    # The other private subnets' route tables still have no default route: only the public one has.
    defaults = [r for r in egress_stack.resources("aws_route").values() if r["destination_cidr_block"] == "0.0.0.0/0"]
    assert sum("gateway_id" in r for r in defaults) == 1


def test_gateway_endpoints_also_serve_the_egress_route_tables(egress_stack):
    tables = egress_stack.resources("aws_route_table")
    egress_tables = {
        ref(egress_stack, "aws_route_table", k) for k, b in tables.items() if "egress-rt" in b["tags"]["Name"]
    }
    for endpoint in egress_stack.resources("aws_vpc_endpoint").values():
        if endpoint["vpc_endpoint_type"] == "Gateway":
            assert egress_tables <= set(endpoint["route_table_ids"]) and len(endpoint["route_table_ids"]) == 5


def test_only_the_declaring_function_runs_in_the_egress_subnets_with_its_own_group(egress_stack):
    egress = {ref(egress_stack, "aws_subnet", k) for k in by_tag(egress_stack, "aws_subnet", "egress")}
    private = {ref(egress_stack, "aws_subnet", k) for k in by_tag(egress_stack, "aws_subnet", "private")}
    groups = egress_stack.resources("aws_security_group")
    (lambda_sg,) = [k for k, b in groups.items() if b["name"] == "payments-lambda-sg-test"]
    (own_sg,) = [k for k, b in groups.items() if b["name"] == "webhook-sender-egress-sg-test"]
    sender, quiet = function(egress_stack, "webhook-sender"), function(egress_stack, "quiet")
    assert set(sender["vpc_config"]["subnet_ids"]) == egress
    assert sender["vpc_config"]["security_group_ids"] == [
        ref(egress_stack, "aws_security_group", lambda_sg),
        ref(egress_stack, "aws_security_group", own_sg),
    ]
    assert set(quiet["vpc_config"]["subnet_ids"]) == private
    assert sender["tags"]["egress-ports"] == "443 8443" and sender["tags"]["egress-hosts"] == "hooks.merchant.example"
    assert "egress-ports" not in (quiet.get("tags") or {})


def test_the_functions_own_group_allows_only_its_declared_ports(egress_stack):
    groups = egress_stack.resources("aws_security_group")
    (own_sg,) = [k for k, b in groups.items() if b["name"] == "webhook-sender-egress-sg-test"]
    rules = [
        r
        for r in egress_stack.resources("aws_vpc_security_group_egress_rule").values()
        if r["security_group_id"] == ref(egress_stack, "aws_security_group", own_sg)
    ]
    assert sorted((r["from_port"], r["to_port"], r["ip_protocol"], r["cidr_ipv4"]) for r in rules) == [
        (443, 443, "tcp", "0.0.0.0/0"),
        (8443, 8443, "tcp", "0.0.0.0/0"),
    ]
    assert not egress_stack.resources("aws_vpc_security_group_ingress_rule").keys() & {own_sg}


def test_egress_that_names_no_port_or_a_bad_one_is_refused():
    with pytest.raises(RegistrationError, match="names no port"):
        Egress(ports=())
    with pytest.raises(RegistrationError, match="70000 is not a TCP port"):
        Egress(ports=(70000,))
    with pytest.raises(RegistrationError, match="'https://x' is not a host name"):
        Egress(hosts=("https://x",))


# --------------------------------------------------------------------------- PP-EGRESS


def test_a_url_setting_on_a_function_without_egress_is_named_at_synth_in_one_line():
    stack = build(Asking(functions={"quiet": None}, environment={"MERCHANT_URL": WEBHOOK_URL}))
    (line,) = egress_warnings(stack)
    assert "(plugin 'asking') function 'quiet-test'" in line
    assert "MERCHANT_URL" in line and "declared no egress" in line and "hooks.merchant.example" in line
    assert "\n" not in line


def test_a_url_on_a_declared_host_and_port_is_not_reported():
    stack = build(
        Asking(
            functions={"webhook-sender": Egress(ports=(443,), hosts=("*.merchant.example",))},
            environment={"MERCHANT_URL": WEBHOOK_URL, "QUEUE": "https://sqs.us-east-1.amazonaws.com/1/q"},
        )
    )
    assert egress_warnings(stack) == []


def test_a_url_on_an_undeclared_port_is_reported():
    stack = build(
        Asking(
            functions={"webhook-sender": Egress(ports=(443,))}, environment={"MERCHANT_URL": "http://h.example:8080/"}
        )
    )
    (line,) = egress_warnings(stack)
    assert "on port 8080; its declared egress allows [443]" in line
