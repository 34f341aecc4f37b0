"""The network's egress path (NAT gateways, Elastic IPs, egress subnets, route tables, a declaring
function's own security group) and a requested interface endpoint pass checkov as they are: no
baseline entry covers them (#29 item 1)."""

from __future__ import annotations

import sys
from pathlib import Path

from payments_platform.core import Egress
from payments_platform.core.ops.compliance.checkov import locate_checkov, run_checkov

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO / "tests" / "plugins" / "network"))
from test_network_requests import Asking, build  # noqa: E402

NETWORK_TYPES = (
    "aws_eip.",
    "aws_nat_gateway.",
    "aws_subnet.",
    "aws_route_table.",
    "aws_route.",
    "aws_route_table_association.",
    "aws_security_group.",
    "aws_vpc_security_group_egress_rule.",
    "aws_vpc_endpoint.",
)


def test_the_egress_path_and_a_requested_endpoint_have_no_checkov_finding():
    stack = build(Asking(services=("lambda",), functions={"webhook-sender": Egress(ports=(443,)), "quiet": None}))
    report = run_checkov({"egress": stack.config}, locate_checkov(REPO))
    scanned = {r.address for r in report.results if r.stack == "egress" and r.address.startswith(NETWORK_TYPES)}
    assert any(a.startswith("aws_nat_gateway.") for a in scanned) or any(a.startswith("aws_eip.") for a in scanned)
    failed = [r for r in report.failed("egress") if r.address.startswith(NETWORK_TYPES)]
    assert failed == []
    assert report.not_evaluated == []
