"""The deployed functions, read back from the emulator as Lambda would run them.

(The identity each one runs with: function_identities.py.)
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from payments_platform.core.errors import PlatformError
from payments_platform.core.local.lambdafn.service import FunctionSpec
from payments_platform.core.network_needs import EGRESS_PORTS_TAG


class DeployedFunctionError(PlatformError):
    """A deployed function cannot be run faithfully (code differs from the package, ...)."""


def code_sha256(path: Path) -> str:
    """Lambda's CodeSha256: base64 of the SHA-256 of the deployment package."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def read_function(lambda_client: Any, name: str, package: Path, code_root: Path) -> FunctionSpec:
    """The function ``name`` as deployed; its package (the zip Terraform uploaded) must hash to the
    deployed CodeSha256, and is unpacked under ``code_root`` as Lambda unpacks it into /var/task."""
    config = lambda_client.get_function_configuration(FunctionName=name)
    if config.get("PackageType", "Zip") != "Zip" or not config.get("Handler"):
        raise DeployedFunctionError(f"function {name}: only zip packages with a handler run locally")
    deployed, local = config["CodeSha256"], code_sha256(package)
    if deployed != local:
        raise DeployedFunctionError(
            f"function {name}: deployed code (CodeSha256 {deployed}) is not {package.name} ({local}); run `local up` again"
        )
    concurrency = lambda_client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    code_dir = code_root / name
    if not code_dir.exists():
        staging = code_root / f".{name}.unpacking"
        with zipfile.ZipFile(package) as archive:
            archive.extractall(staging)
        staging.rename(code_dir)
    logging_config = config.get("LoggingConfig") or {}
    tags = lambda_client.list_tags(Resource=config["FunctionArn"]).get("Tags") or {}
    return FunctionSpec(
        name=name,
        arn=config["FunctionArn"],
        handler=config["Handler"],
        timeout_s=int(config.get("Timeout", 3)),
        memory_mb=int(config.get("MemorySize", 128)),
        # Unreserved functions share the account's pool; locally that is bounded at 10.
        reserved_concurrency=int(concurrency) if concurrency is not None else 10,
        environment=dict((config.get("Environment") or {}).get("Variables") or {}),
        code_dir=code_dir,
        log_group=logging_config.get("LogGroup") or f"/aws/lambda/{name}",
        runtime=config.get("Runtime", "python3.12"),
        role_arn=config["Role"],
        egress_ports=declared_egress_ports(tags),
    )


def declared_egress_ports(tags: Mapping[str, str]) -> tuple[int, ...] | None:
    """The ports of the deployed function's ``egress-ports`` tag (platform_function(..., egress=...));
    None when it declared no egress."""
    value = tags.get(EGRESS_PORTS_TAG)
    if value is None:
        return None
    try:
        return tuple(sorted(int(port) for port in value.split()))
    except ValueError:
        raise DeployedFunctionError(f"tag {EGRESS_PORTS_TAG}={value!r} is not a list of ports") from None


def spec_to_json(spec: FunctionSpec) -> dict[str, Any]:
    data = asdict(spec)
    data["code_dir"] = str(spec.code_dir)
    return data


def spec_from_json(data: Mapping[str, Any]) -> FunctionSpec:
    ports = data.get("egress_ports")
    return FunctionSpec(
        **{**data, "code_dir": Path(data["code_dir"]), "egress_ports": tuple(ports) if ports is not None else None}
    )
