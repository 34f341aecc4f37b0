"""Settings the network plugin accepts (``[environments.<env>.settings.network]``)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator

from payments_platform.core import LogRetentionDays, PluginSettings, unique_strings

# Interface endpoints the Lambdas call from private subnets (there is no NAT);
# Secrets Manager serves the card-fingerprint HMAC key at cold start.
DEFAULT_INTERFACE_ENDPOINTS = ("secretsmanager", "sns", "sqs", "xray")
GATEWAY_ENDPOINTS = ("dynamodb", "s3")


class NetworkSettings(PluginSettings):
    vpc_cidr: str = "10.40.0.0/16"
    availability_zones: int = Field(default=2, ge=2, le=4)
    flow_log_retention_days: LogRetentionDays = 30
    # Pin the subnets' AZs by zone id (e.g. use1-az1; ids are the same in every account):
    # otherwise a new AZ sorting before ours would shift them and replace the subnets.
    zone_ids: unique_strings(r"^[a-z]{2,4}\d-az\d+$", "an availability zone id like use1-az1") = ()
    interface_endpoints: unique_strings(r"^[a-z0-9][a-z0-9.-]*$", "an AWS service endpoint name") = (
        DEFAULT_INTERFACE_ENDPOINTS
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        """an IPv4 CIDR block from /16 to /20"""
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 CIDR block") from None
        if not 16 <= network.prefixlen <= 20:
            raise ValueError("vpc_cidr must be a /16 to /20 block (subnets are carved as /prefix+4)")
        return value

    @model_validator(mode="after")
    def _zone_ids_match_count(self) -> NetworkSettings:
        """zone_ids, when given, lists availability_zones zones"""
        if self.zone_ids and len(self.zone_ids) != self.availability_zones:
            raise ValueError(
                f"zone_ids lists {len(self.zone_ids)} zones; availability_zones is {self.availability_zones}"
            )
        return self

    def subnet_cidrs(self) -> tuple[list[str], list[str]]:
        """(private, public) CIDRs: private subnets first, public ones in the upper half."""
        network = ipaddress.IPv4Network(self.vpc_cidr)
        subnets = list(network.subnets(new_prefix=network.prefixlen + 4))
        half = len(subnets) // 2
        n = self.availability_zones
        return [str(s) for s in subnets[:n]], [str(s) for s in subnets[half : half + n]]

    def egress_subnet_cidrs(self) -> list[str]:
        """The private egress subnets' CIDRs (built only when a function declares egress): the
        blocks right after the private ones, below the public half."""
        network = ipaddress.IPv4Network(self.vpc_cidr)
        subnets = list(network.subnets(new_prefix=network.prefixlen + 4))
        n = self.availability_zones
        return [str(s) for s in subnets[n : 2 * n]]
