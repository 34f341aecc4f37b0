"""The role registry: per-function IAM roles and least-privilege grants.

Plugins ask for a role, then grant it statements (specific actions on specific ARNs).
After every plugin's ``finalize`` the host renders exactly one inline policy per role.
Wildcard actions are refused; a bare ``*`` resource is accepted only with a reason
(where AWS offers no resource-level permission), and the reasons are reported.

Who may add statements to whose role (plugin API 1.1):

1. A role's **owner** -- the plugin that created it with ``ctx.roles.role`` -- grants it what its
   code calls: ``ctx.roles.grant`` on its own resources, a published value's grant on another
   plugin's (``ctx[keys.TRANSACTIONS_TABLE].grant_read(ctx.roles, role, sid=...)``).
2. **Another plugin** adds statements to that role only when the role reached it in a value it
   declared in ``requires`` or ``uses`` (``ctx[keys.TRANSACTION_PROCESSOR].role``), and then
   for access to what *it* owns: a value's grant on its own resource
   (``my_queue.grant_send(ctx.roles, processor.role, sid=...)``) or ``ctx.roles.grant`` naming
   its own resources. Every statement records the plugin that granted it.
3. **A published resource** (a table, queue, topic or key another plugin published) is reached
   only through its value's grants, never by a raw ``ctx.roles.grant`` naming its ARN.

Naming another plugin's role by string, granting to a role that did not reach the plugin through
a declared key, and raw statements on a published resource are refused for plugins written for
plugin API 1.1 or later (``requires_api`` excluding 1.0), and deprecated with a
:class:`~payments_platform.core.errors.PluginDeprecationWarning` naming what to use instead for
plugins that still accept 1.0; plugin API 2.0 refuses them for everyone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from payments_platform.core.errors import RegistrationError

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
_SID = re.compile(r"^[A-Za-z0-9]+$")


# Set while a published value's grant (core/grants.py, KmsKey.grant_use) records its statements,
# so ctx.roles can tell them from a plugin's own raw statements.
_VALUE_GRANT: ContextVar[bool] = ContextVar("value_grant", default=False)


@contextmanager
def value_grant() -> Iterator[None]:
    """Mark the grants recorded inside as made through a value's grant method."""
    token = _VALUE_GRANT.set(True)
    try:
        yield
    finally:
        _VALUE_GRANT.reset(token)


def in_value_grant() -> bool:
    return _VALUE_GRANT.get()


@dataclass(frozen=True)
class Statement:
    """One statement of a role's inline policy, and the plugin that granted it."""

    # unique within the role; a value's grant adds {sid}Kms for its key use
    sid: str
    # specific service:Action names, sorted (no wildcards)
    actions: tuple[str, ...]
    # ARNs (references), or ["*"] with any_resource_reason
    resources: tuple[str, ...]
    # the plugin that added it
    granted_by: str
    # an IAM Condition block, e.g. kms:ViaService
    conditions: Mapping[str, Any] | None = None
    # why AWS needs Resource "*" here (reported)
    any_resource_reason: str | None = None

    def render(self) -> dict[str, Any]:
        """The statement as IAM JSON (a dict)."""
        body: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": list(self.resources) if len(self.resources) > 1 else self.resources[0],
        }
        if self.conditions:
            body["Condition"] = dict(self.conditions)
        return body


@dataclass
class Role:
    """An IAM role from ``ctx.roles.role(...)``, or one published in a value (``Function.role``).
    Pass it to a grant; read ``arn`` for a resource's ``role`` argument. ``policy`` is its one
    inline policy resource: created with the role (so resources can ``depends_on`` it), its
    document rendered from ``statements`` after ``finalize``."""

    key: str  # unique in the build: the construct ids and, with the suffix, the name derive from it
    name: str  # the IAM role name, {key}-role-{suffix}
    owner: str  # the plugin that created it (rule 1 of the grant rules above)
    construct: Any  # the aws_iam_role resource
    policy: Any = None  # the aws_iam_role_policy resource (depends_on it to wait for the grants)
    statements: list[Statement] = field(default_factory=list)  # every grant so far, in order

    @property
    def arn(self) -> str:
        """The role's ARN (a reference to the role resource)."""
        return str(self.construct.arn)

    def policy_document(self) -> str:
        """The inline policy's JSON: every statement, sorted by Sid."""
        statements = sorted(self.statements, key=lambda s: s.sid)
        return json.dumps({"Version": "2012-10-17", "Statement": [s.render() for s in statements]}, sort_keys=False)


def role_of(grantee: Any) -> str | Role:
    """The role a grant goes to: ``grantee`` itself (a :class:`Role`, or a role key), or the
    execution role of a function (anything carrying a ``role``, e.g. ``keys.Function``)."""
    if isinstance(grantee, (str, Role)):
        return grantee
    role = getattr(grantee, "role", None)
    if isinstance(role, Role):
        return role
    raise RegistrationError(f"{grantee!r} is neither a role nor a function carrying one: grants go to either")


class RoleRegistry:
    """Shared by all plugins; ``create_role`` is supplied by the host: it builds the IAM role and
    its (still empty) inline policy and returns both."""

    def __init__(self, create_role: Callable[[Any, str, str, str, str], tuple[Any, Any]]) -> None:
        self._create_role = create_role
        self._roles: dict[str, Role] = {}

    def role(
        self,
        key: str,
        *,
        service: str,
        description: str,
        plugin: str,
        scope: Any,
        name: str,
        trust_conditions: Mapping[str, Any] | None = None,
    ) -> Role:
        if key in self._roles:
            existing = self._roles[key]
            raise RegistrationError(
                f"plugin '{plugin}' asked for role '{key}', already created by plugin '{existing.owner}'"
            )
        # Only passed when set: a host's create_role without conditions keeps working.
        extra = {"trust_conditions": dict(trust_conditions)} if trust_conditions else {}
        construct, policy = self._create_role(scope, key, name, service, description, **extra)
        role = Role(key=key, name=name, owner=plugin, construct=construct, policy=policy)
        self._roles[key] = role
        return role

    def get(self, key: str) -> Role:
        try:
            return self._roles[key]
        except KeyError:
            raise RegistrationError(
                f"no role '{key}' is registered (known: {', '.join(sorted(self._roles)) or 'none'})"
            ) from None

    def grant(
        self,
        role: Any,
        *,
        sid: str,
        actions: Sequence[str],
        resources: Sequence[str],
        plugin: str,
        conditions: Mapping[str, Any] | None = None,
        any_resource_reason: str | None = None,
    ) -> Statement:
        grantee = role_of(role)
        target = self.get(grantee if isinstance(grantee, str) else grantee.key)
        where = f"plugin '{plugin}' granting '{sid}' to role '{target.key}'"
        if not _SID.match(sid):
            raise RegistrationError(f"{where}: Sid must be alphanumeric")
        if any(s.sid == sid for s in target.statements):
            raise RegistrationError(f"{where}: the role already has a statement '{sid}'")
        if not actions:
            raise RegistrationError(f"{where}: no actions")
        for action in actions:
            if not _ACTION.match(action):
                raise RegistrationError(f"{where}: action {action!r} is not a specific 'service:Action' (no wildcards)")
        if not resources:
            raise RegistrationError(f"{where}: no resources")
        if "*" in resources:
            if not any_resource_reason:
                raise RegistrationError(f"{where}: resource '*' needs any_resource_reason (why AWS requires it)")
            if len(resources) != 1:
                raise RegistrationError(f"{where}: '*' cannot be mixed with specific resources")
        statement = Statement(
            sid=sid,
            actions=tuple(sorted(set(actions))),
            resources=tuple(resources),
            granted_by=plugin,
            conditions=conditions,
            any_resource_reason=any_resource_reason,
        )
        target.statements.append(statement)
        return statement

    def roles(self) -> list[Role]:
        return [self._roles[k] for k in sorted(self._roles)]

    def wildcard_resource_grants(self) -> list[tuple[str, Statement]]:
        """(role, statement) pairs that use ``Resource: *``, with their documented reasons."""
        return [(r.key, s) for r in self.roles() for s in r.statements if s.any_resource_reason]


def grant_key_via_service(
    roles: Any, role: Any, kms_key_arn: str, *, sid: str, actions: Sequence[str], service: str, region: str
) -> Statement:
    """Key use on ``kms_key_arn`` only through calls ``service`` makes in ``region`` on the
    role's behalf (``kms:ViaService``), never direct KMS use. ``roles`` is ``ctx.roles``."""
    with value_grant():
        statement: Statement = roles.grant(
            role,
            sid=sid,
            actions=list(actions),
            resources=[kms_key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}},
        )
    return statement


VPC_ENI_ACTIONS = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:UnassignPrivateIpAddresses",
)
VPC_ENI_REASON = (
    "Lambda manages the function's VPC network interfaces with the execution role; "
    "ec2:DescribeNetworkInterfaces supports no resource-level permission and the interfaces "
    "(and their ARNs) do not exist before Lambda creates them"
)
XRAY_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
XRAY_REASON = "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions"


def grant_function_basics(roles: Any, role: Any, log_group_arn: str) -> None:
    """What every platform Lambda (VPC, X-Ray tracing, its own log group) needs, whatever its
    handler does: ``WriteOwnLogs``, ``XRayTracing``, ``VpcNetworkInterfaces``. ``roles`` is ``ctx.roles``.
    :func:`~payments_platform.core.builders.platform_function` grants them itself; this stays for
    a function built another way (and for plugins written before it did)."""
    roles.grant(
        role,
        sid="WriteOwnLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[log_group_arn, f"{log_group_arn}:*"],
    )
    roles.grant(role, sid="XRayTracing", actions=list(XRAY_ACTIONS), resources=["*"], any_resource_reason=XRAY_REASON)
    roles.grant(
        role,
        sid="VpcNetworkInterfaces",
        actions=list(VPC_ENI_ACTIONS),
        resources=["*"],
        any_resource_reason=VPC_ENI_REASON,
    )
