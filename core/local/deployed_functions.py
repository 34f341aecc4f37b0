"""The deployed functions, read back from the emulator, and the identity each one runs with.

Lambda gives a function its execution role's credentials. moto cannot assume a role with a
service-principal trust, so each function gets an IAM user holding exactly the same policy
documents as its role (inline ones copied, managed ones attached): the emulator, with IAM
enforcement on, then allows the function what its deployed policy allows and nothing more.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

from ..errors import PlatformError
from .lambda_service import FunctionSpec

IDENTITY_PREFIX = "local-fn-"


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
    )


def create_identity(iam: Any, function_config: Mapping[str, Any]) -> dict[str, str]:
    """An IAM user carrying the function role's policies; its access key as environment variables."""
    function_name = function_config["FunctionName"]
    role_name = function_config["Role"].rsplit("/", 1)[-1]
    user = f"{IDENTITY_PREFIX}{function_name}"[:64]
    delete_identity(iam, user)  # a leftover of an earlier run
    iam.create_user(UserName=user, Tags=[{"Key": "payments-local", "Value": "function-identity"}])
    for policy_name in _all(iam.list_role_policies, "PolicyNames", RoleName=role_name):
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        iam.put_user_policy(
            UserName=user,
            PolicyName=policy_name,
            PolicyDocument=document if isinstance(document, str) else json.dumps(document),
        )
    for attached in _all(iam.list_attached_role_policies, "AttachedPolicies", RoleName=role_name):
        iam.attach_user_policy(UserName=user, PolicyArn=attached["PolicyArn"])
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def delete_identity(iam: Any, user: str) -> bool:
    try:
        iam.get_user(UserName=user)
    except iam.exceptions.NoSuchEntityException:
        return False
    for key in _all(iam.list_access_keys, "AccessKeyMetadata", UserName=user):
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    for policy_name in _all(iam.list_user_policies, "PolicyNames", UserName=user):
        iam.delete_user_policy(UserName=user, PolicyName=policy_name)
    for attached in _all(iam.list_attached_user_policies, "AttachedPolicies", UserName=user):
        iam.detach_user_policy(UserName=user, PolicyArn=attached["PolicyArn"])
    iam.delete_user(UserName=user)
    return True


def delete_all_identities(iam: Any) -> list[str]:
    users = [u["UserName"] for u in _all(iam.list_users, "Users") if u["UserName"].startswith(IDENTITY_PREFIX)]
    for user in users:
        delete_identity(iam, user)
    return users


def spec_to_json(spec: FunctionSpec) -> dict[str, Any]:
    data = asdict(spec)
    data["code_dir"] = str(spec.code_dir)
    return data


def spec_from_json(data: Mapping[str, Any]) -> FunctionSpec:
    return FunctionSpec(**{**data, "code_dir": Path(data["code_dir"])})


def _all(operation: Any, field: str, **kwargs: Any) -> list[Any]:
    items: list[Any] = []
    marker = None
    while True:
        page = operation(**kwargs, **({"Marker": marker} if marker else {}))
        items.extend(page.get(field, []))
        if not page.get("IsTruncated"):
            return items
        marker = page["Marker"]
