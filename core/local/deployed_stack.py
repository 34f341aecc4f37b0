"""The stack as the emulator holds it: the one reader ``local up``, ``--watch`` and the gateway use.

What the stack declares comes from its synthesized configuration in the stack directory (which
functions, from which package; which REST APIs); what each one *is* comes from the emulator,
through the services' own APIs (functions, identities, APIs, schedules, event source mappings) --
never from the Python that generated the Terraform.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payments_platform.core.local.apigw.deployed_api import DeployedApi, read_deployed_api
from payments_platform.core.local.emulator.function_identities import function_identity, identity_matches_role
from payments_platform.core.local.gateway_spec import Credentials
from payments_platform.core.local.lambdafn.deployed_functions import DeployedFunctionError, code_sha256, read_function
from payments_platform.core.local.lambdafn.event_sources import QueueEventSource, read_event_sources
from payments_platform.core.local.lambdafn.schedules import LocalSchedule, read_schedules
from payments_platform.core.local.lambdafn.service import FunctionSpec
from payments_platform.core.local.processes import emulator_client


@dataclass(frozen=True)
class DeployedFunctions:
    functions: tuple[FunctionSpec, ...]
    credentials: Credentials  # each function's own identity
    code: Mapping[str, str]  # function → the CodeSha256 deployed


@dataclass(frozen=True)
class Served:
    """What a running gateway serves: a read back keeps what did not change (``--watch``)."""

    functions: tuple[FunctionSpec, ...] = ()
    credentials: Credentials = field(default_factory=dict)
    code: Mapping[str, str] = field(default_factory=dict)  # function → CodeSha256 of the code served
    swapped: Mapping[str, Path] = field(default_factory=dict)  # function → package hot-swapped since the apply


class DeployedStack:
    def __init__(self, endpoint: str, region: str, stack_dir: Path) -> None:
        self.endpoint, self.region, self.stack_dir = endpoint, region, stack_dir

    def client(self, service: str, credentials: Mapping[str, str] | None = None) -> Any:
        if credentials is None:
            return emulator_client(service, self.endpoint, self.region)
        return emulator_client(
            service, self.endpoint, self.region, credentials["AWS_ACCESS_KEY_ID"], credentials["AWS_SECRET_ACCESS_KEY"]
        )

    @functools.cached_property
    def config(self) -> dict[str, Any]:
        return dict(json.loads((self.stack_dir / "cdk.tf.json").read_text()))

    def _declared(self, resource_type: str) -> list[dict[str, Any]]:
        return list(((self.config.get("resource") or {}).get(resource_type) or {}).values())

    @property
    def api_names(self) -> list[str]:
        return sorted(body["name"] for body in self._declared("aws_api_gateway_rest_api"))

    def packages(self) -> dict[str, Path]:
        """Function name → the zip Terraform deploys it from."""
        packages = {}
        for body in self._declared("aws_lambda_function"):
            name = body["function_name"]
            if "filename" not in body:
                raise DeployedFunctionError(
                    f"function {name} is deployed from S3 (a signed package): an emulator environment deploys the "
                    "zip directly (api setting code_signing = false)"
                )
            packages[name] = self.stack_dir / body["filename"]
        return dict(sorted(packages.items()))

    def functions(self, code_root: Path, served: Served | None = None) -> DeployedFunctions:
        """Every declared function read back, its code unpacked under ``code_root``, and its identity.
        With ``served``: a function whose deployed code is the one served keeps its unpacked code (and
        so its containers); an identity is rebuilt only where its role changed (a new key would fail
        the requests in flight signed with the old)."""
        served = served or Served()
        served_dirs = {f.name: f.code_dir for f in served.functions}
        lambda_client, iam = self.client("lambda"), self.client("iam")
        functions, credentials, code = [], {}, {}
        for name, package in self.packages().items():
            code[name] = deployed = lambda_client.get_function_configuration(FunctionName=name)["CodeSha256"]
            swapped = served.swapped.get(name)
            if swapped is not None and code_sha256(package) != deployed and code_sha256(swapped) == deployed:
                package = swapped  # an apply left the hot-swapped code deployed
            root = code_root / deployed.replace("/", "_")[:12]
            if name in served_dirs and served.code.get(name) == deployed:
                root = served_dirs[name].parent  # the same code: the same unpacked directory
            function = read_function(lambda_client, name, package, root)
            functions.append(function)
            if name in served.credentials and identity_matches_role(iam, name, function.role_arn):
                credentials[name] = served.credentials[name]
            else:
                credentials[name] = function_identity(iam, name, function.role_arn).environment()
        return DeployedFunctions(tuple(functions), credentials, code)

    def apis(self) -> list[DeployedApi]:
        apigateway, wafv2 = self.client("apigateway"), self.client("wafv2")
        return [read_deployed_api(apigateway, api_name=name, wafv2=wafv2) for name in self.api_names]

    def api_keys(self) -> dict[str, str]:
        """Key name → value, for the keys this stack declares."""
        declared = {body["name"] for body in self._declared("aws_api_gateway_api_key")}
        keys = self.client("apigateway").get_api_keys(includeValues=True, limit=500)["items"]
        return {key["name"]: key["value"] for key in keys if key["name"] in declared}

    def schedules(self, function_names: set[str], say: Callable[[str], None]) -> list[LocalSchedule]:
        return read_schedules(self.client("scheduler"), function_names, say)

    def event_sources(self, function_names: set[str]) -> list[QueueEventSource]:
        return read_event_sources(self.client("lambda"), function_names)
