"""Credentials that carry exactly a deployed function's permissions, on the emulator.

On AWS a function runs with its execution role. moto cannot issue that role's credentials to a
local worker (AssumeRole with a ``lambda.amazonaws.com`` trust is refused under IAM enforcement),
so each function gets an IAM user holding the same policy documents as its deployed role, read
back from the emulator -- inline and attached -- and the worker signs with that user's key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

USER_SUFFIX = "-function"


@dataclass(frozen=True)
class FunctionCredentials:
    user_name: str
    access_key_id: str
    secret_access_key: str

    def environment(self) -> dict[str, str]:
        """What a worker process needs to sign as the function (as Lambda sets them)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


def role_policy_documents(iam: Any, role_name: str) -> list[str]:
    """The role's inline and attached (default version) policy documents, as JSON."""
    documents = [
        json.dumps(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    ]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"]
        documents.append(json.dumps(document))
    return documents


def _clear_user(iam: Any, user_name: str) -> None:
    for name in iam.list_user_policies(UserName=user_name)["PolicyNames"]:
        iam.delete_user_policy(UserName=user_name, PolicyName=name)
    for key in iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"])


def function_identity(iam: Any, function_name: str, role_arn: str) -> FunctionCredentials:
    """An IAM user ``<function>-function`` holding exactly the role's policies, and a fresh key.

    ``iam`` is an administrator's IAM client on the emulator. Idempotent: a second call replaces
    the user's policies (the role may have changed) and its key."""
    user_name = function_name + USER_SUFFIX
    try:
        iam.create_user(UserName=user_name, Tags=[{"Key": "payments:function", "Value": function_name}])
    except iam.exceptions.EntityAlreadyExistsException:
        _clear_user(iam, user_name)
    for index, document in enumerate(role_policy_documents(iam, role_arn.rsplit("/", 1)[1])):
        iam.put_user_policy(UserName=user_name, PolicyName=f"role-policy-{index}", PolicyDocument=document)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    return FunctionCredentials(user_name, key["AccessKeyId"], key["SecretAccessKey"])


def remove_function_identity(iam: Any, function_name: str) -> None:
    """Delete the function's user, its policies and keys (nothing when it does not exist)."""
    user_name = function_name + USER_SUFFIX
    try:
        _clear_user(iam, user_name)
    except iam.exceptions.NoSuchEntityException:
        return
    iam.delete_user(UserName=user_name)
