"""Credentials that carry exactly a deployed function's permissions, on the emulator.

On AWS a function runs with its execution role. moto cannot issue that role's credentials to a
local worker (AssumeRole with a ``lambda.amazonaws.com`` trust is refused under IAM enforcement),
so each function gets an IAM user ``local-fn-<function>`` holding the same policies as its
deployed role, read back from the emulator -- inline documents copied, managed policies attached
(the same ARNs) -- and the worker signs with that user's key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

USER_PREFIX = "local-fn-"


@dataclass(frozen=True)
class FunctionCredentials:
    user_name: str
    access_key_id: str
    secret_access_key: str

    def environment(self) -> dict[str, str]:
        """What a worker process needs to sign as the function (as Lambda sets them)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


def user_name_of(function_name: str) -> str:
    return f"{USER_PREFIX}{function_name}"[:64]


def function_identity(iam: Any, function_name: str, role_arn: str) -> FunctionCredentials:
    """The function's user holding exactly the role's policies, with a fresh (and only) key.

    ``iam`` is an administrator's IAM client on the emulator. Idempotent: a second call rebuilds
    the user from the role as it is now (the role may have changed)."""
    role_name = role_arn.rsplit("/", 1)[-1]
    user = user_name_of(function_name)
    remove_function_identity(iam, function_name)
    iam.create_user(UserName=user, Tags=[{"Key": "payments:function", "Value": function_name}])
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
    return FunctionCredentials(user, key["AccessKeyId"], key["SecretAccessKey"])


def identity_matches_role(iam: Any, function_name: str, role_arn: str) -> bool:
    """Whether the function's user still holds exactly its role's policies (``local up --watch``
    keeps its key then, so requests in flight are not cut off by a new one)."""
    role_name = role_arn.rsplit("/", 1)[-1]
    user = user_name_of(function_name)
    try:
        user_policies = {
            name: _document(iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"])
            for name in _all(iam.list_user_policies, "PolicyNames", UserName=user)
        }
        user_attached = {
            p["PolicyArn"] for p in _all(iam.list_attached_user_policies, "AttachedPolicies", UserName=user)
        }
    except iam.exceptions.NoSuchEntityException:
        return False
    role_policies = {
        name: _document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        for name in _all(iam.list_role_policies, "PolicyNames", RoleName=role_name)
    }
    role_attached = {
        p["PolicyArn"] for p in _all(iam.list_attached_role_policies, "AttachedPolicies", RoleName=role_name)
    }
    return user_policies == role_policies and user_attached == role_attached


def _document(document: Any) -> Any:
    return json.loads(document) if isinstance(document, str) else document


def remove_function_identity(iam: Any, function_name: str) -> bool:
    """Delete the function's user, its policies and keys; False when there was none."""
    user = user_name_of(function_name)
    try:
        iam.get_user(UserName=user)
    except iam.exceptions.NoSuchEntityException:
        return False
    _delete_user(iam, user)
    return True


def remove_all_function_identities(iam: Any) -> list[str]:
    """Every function user on the emulator (``local down``: they are not Terraform's)."""
    users = [u["UserName"] for u in _all(iam.list_users, "Users") if u["UserName"].startswith(USER_PREFIX)]
    for user in users:
        _delete_user(iam, user)
    return users


def _delete_user(iam: Any, user: str) -> None:
    for key in _all(iam.list_access_keys, "AccessKeyMetadata", UserName=user):
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    for policy_name in _all(iam.list_user_policies, "PolicyNames", UserName=user):
        iam.delete_user_policy(UserName=user, PolicyName=policy_name)
    for attached in _all(iam.list_attached_user_policies, "AttachedPolicies", UserName=user):
        iam.detach_user_policy(UserName=user, PolicyArn=attached["PolicyArn"])
    iam.delete_user(UserName=user)


def _all(operation: Any, field: str, **kwargs: Any) -> list[Any]:
    items: list[Any] = []
    marker = None
    while True:
        page = operation(**kwargs, **({"Marker": marker} if marker else {}))
        items.extend(page.get(field, []))
        if not page.get("IsTruncated"):
            return items
        marker = page["Marker"]
