"""PP-EGRESS (a synth warning): a function that looks like it calls the internet without having
declared egress -- a URL of a host outside AWS in its environment -- is named, with its plugin.

In AWS such a function has no route out (PP-LAMBDA-PRIVATE-SUBNETS: private subnets reaching AWS
through VPC endpoints only), so the call would time out in production while working on a laptop.
A function that declared egress (``platform_function(..., egress=Egress(...))``, tagged
``egress-ports`` / ``egress-hosts``) is named when a URL's port is not among its declared ports,
or its host not among its declared hosts (when it listed any).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from payments_platform.core.network_needs import EGRESS_HOSTS_TAG, EGRESS_PORTS_TAG

# Reached through the VPC's endpoints, never the internet.
AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
_DEFAULT_PORTS = {"https": 443, "http": 80}


def egress_warnings(resources: list[Any]) -> list[tuple[str, str]]:
    """(line, construct path) per function and variable:
    ``[PP-EGRESS] <address> (plugin 'p') function 'f': ...`` (a plugin's PP-EGRESS suppression on the
    function's path silences it)."""
    found = []
    for resource in resources:
        if resource.type != "aws_lambda_function":
            continue
        name = resource.body.get("function_name", resource.logical_id)
        where = f"[PP-EGRESS] {resource.address} (plugin '{resource.plugin}') function '{name}'"
        found += [(f"{where}: {problem}", resource.path) for problem in _problems(resource.body)]
    return found


def _problems(body: dict[str, Any]) -> Iterator[str]:
    tags = body.get("tags") or {}
    ports = {int(p) for p in str(tags.get(EGRESS_PORTS_TAG, "")).split()}
    hosts = str(tags.get(EGRESS_HOSTS_TAG, "")).split()
    variables = ((body.get("environment") or {}).get("variables")) or {}
    for variable, value in sorted(variables.items()):
        target = _internet_target(value)
        if target is None:
            continue
        host, port = target
        if not ports:
            yield (
                f"{variable} is {value!r}, but the function declared no egress: in AWS it has no route to "
                f"{host} (declare platform_function(..., egress=Egress(ports=({port},), hosts=({host!r},))))"
            )
        elif port not in ports:
            yield f"{variable} is {value!r}, on port {port}; its declared egress allows {sorted(ports)}"
        elif hosts and not any(_host_matches(host, pattern) for pattern in hosts):
            yield f"{variable} is {value!r}; its declared egress names {hosts}, not {host}"


def _internet_target(value: Any) -> tuple[str, int] | None:
    """(host, port) of a literal http(s) URL to a host outside AWS; None for anything else."""
    if not isinstance(value, str) or "${" in value or not value.startswith(("http://", "https://")):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except (ValueError, KeyError):
        return None
    host = (parts.hostname or "").lower()
    if not host or host.endswith(AWS_DOMAINS):
        return None
    return host, port


def _host_matches(host: str, pattern: str) -> bool:
    return host.endswith(pattern[1:]) if pattern.startswith("*.") else host == pattern
