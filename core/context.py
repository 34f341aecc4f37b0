"""The shared build context and each plugin's view of it.

``BuildContext`` is created fresh for every stack. A plugin only ever sees a
``PluginContext``: reads and writes go through typed keys and are checked against the
plugin's declaration, and every registration is stamped with the plugin's name so an
error can say who did what.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from payments_platform.core import keys as _keys
from payments_platform.core.declaration import PluginDeclaration, PluginSettings
from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.errors import ContextError, PluginDeprecationWarning, RegistrationError
from payments_platform.core.evidence import ControlRegistry, PluginCompliance
from payments_platform.core.keys import KMS_KEY, ContextKey, Function
from payments_platform.core.monitoring import (
    COMPARISONS,
    TREAT_MISSING_DATA,
    Metric,
    MetricAlarm,
    MetricWidget,
    MonitoredApi,
    MonitoredFunction,
    MonitoredLogGroup,
    MonitoredQueue,
    MonitoredTable,
    MonitoringRegistry,
    check_key,
    check_metric,
    check_moved_from,
    check_period,
)
from payments_platform.core.naming import Naming
from payments_platform.core.roles import Role, RoleRegistry, Statement, in_value_grant, role_of

T = TypeVar("T")

CORE = "core"


@dataclass(frozen=True)
class AwsAccount:
    """Tokens for the deploying account and partition, plus the resolved regions."""

    # the deploying account's id (a reference to aws_caller_identity)
    account_id: str
    # aws, aws-cn or aws-us-gov (a reference to aws_partition)
    partition: str
    # the region the stack deploys to
    region: str
    # the region API Gateway and CloudWatch configuration names
    service_region: str
    # the ARN Terraform runs as (a reference to aws_caller_identity; an assumed role's session ARN)
    caller_arn: str = ""

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        """An ARN in this account and region: ``arn("sqs", "my-queue")``; ``region=False`` / ``account=False``
        leave that part empty (S3, IAM)."""
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )


@dataclass
class Output:
    name: str
    value: Any
    description: str
    plugin: str
    sensitive: bool = False


@dataclass
class Suppression:
    path: str
    rule: str
    reason: str
    plugin: str


@dataclass
class KeyPolicyStatement:
    sid: str
    statement: dict[str, Any]
    plugin: str


@dataclass
class BuildContext:
    environment: EnvironmentConfig
    naming: Naming
    stack: Any
    aws: AwsAccount
    roles: RoleRegistry
    monitoring: MonitoringRegistry = field(default_factory=MonitoringRegistry)
    controls: ControlRegistry = field(default_factory=ControlRegistry)
    outputs: dict[str, Output] = field(default_factory=dict)
    suppressions: list[Suppression] = field(default_factory=list)
    key_policy: list[KeyPolicyStatement] = field(default_factory=list)
    values: dict[str, tuple[Any, str]] = field(default_factory=dict)
    # key name → plugin that declared it provides it (enabled plugins only)
    providers: dict[str, str] = field(default_factory=dict)
    # (plugin, text): what plugins said about this build, printed once at synth
    notes: list[tuple[str, str]] = field(default_factory=list)
    phase: str = "configure"

    def publish(self, key: ContextKey[T], value: T, plugin: str) -> None:
        if key.name in self.values:
            raise ContextError(f"plugin '{plugin}' published '{key.name}' twice")
        if not isinstance(value, key.type):
            raise ContextError(
                f"plugin '{plugin}' published '{key.name}' as {type(value).__name__}, expected {key.type.__name__}"
            )
        self.values[key.name] = (value, plugin)


class PluginContext:
    """One plugin's view of the build: what a hook's ``ctx`` argument is."""

    def __init__(
        self, build: BuildContext, declaration: PluginDeclaration, settings: PluginSettings, scope: Any
    ) -> None:
        self._build = build
        self.declaration = declaration
        self.name = declaration.name
        self.settings = settings
        self.scope = scope
        self.roles = _PluginRoles(build.roles, self)
        self.monitoring = _PluginMonitoring(build.monitoring, self.name, scope)
        self.policy = _PluginPolicy(build, self.name)
        self.outputs = _PluginOutputs(build, self.name)
        self.compliance = PluginCompliance(build.controls, self.name)
        # Private to this plugin for this build: carries what one phase built to a later phase
        # (e.g. resources → wiring) without module-level state.
        self.stash: dict[str, Any] = {}

    # -- environment -------------------------------------------------------------
    @property
    def environment(self) -> EnvironmentConfig:
        return self._build.environment

    @property
    def naming(self) -> Naming:
        return self._build.naming

    @property
    def aws(self) -> AwsAccount:
        return self._build.aws

    @property
    def phase(self) -> str:
        return self._build.phase

    def note(self, text: str) -> None:
        """Say one line about this environment's build, printed once by ``synth`` (and ``plan``)
        as ``note: [<plugin>] <text>`` -- what the environment does, not a problem (e.g. the api
        plugin's "intake only: no payment connector is enabled")."""
        self._build.notes.append((self.name, text))

    def tags(self, **extra: str) -> dict[str, str]:
        """Platform tags (applied to every taggable resource anyway) plus ``extra``."""
        return {**platform_tags(self._build.environment), **extra}

    # -- typed context -----------------------------------------------------------
    def __getitem__(self, key: ContextKey[T]) -> T:
        value = self.get(key)
        if value is None:
            provider = self._build.providers.get(key.name)
            if provider is None:
                raise ContextError(
                    f"plugin '{self.name}' read '{key.name}', which no enabled plugin provides "
                    f"(declare it in 'uses' and call ctx.get() to make it optional)"
                )
            raise ContextError(
                f"plugin '{self.name}' read '{key.name}' in phase '{self.phase}' before plugin '{provider}' "
                f"published it; read it in a later phase"
            )
        return value

    def get(self, key: ContextKey[T]) -> T | None:
        declared = (*self.declaration.requires, *self.declaration.uses, *self.declaration.provides)
        if key is not KMS_KEY and key not in declared:
            raise ContextError(f"plugin '{self.name}' read '{key.name}' without declaring it in 'requires' or 'uses'")
        entry = self._build.values.get(key.name)
        return None if entry is None else entry[0]

    def __setitem__(self, key: ContextKey[T], value: T) -> None:
        if key not in self.declaration.provides:
            raise ContextError(f"plugin '{self.name}' published '{key.name}' without declaring it in 'provides'")
        if self.phase == "finalize":
            raise ContextError(f"plugin '{self.name}' published '{key.name}' in finalize; publish by 'wiring'")
        self._build.publish(key, value, self.name)

    def __contains__(self, key: ContextKey[Any]) -> bool:
        return key.name in self._build.values

    def __repr__(self) -> str:
        return f"<PluginContext plugin={self.name!r} env={self.environment.name!r} phase={self.phase!r}>"


def platform_tags(env: EnvironmentConfig) -> dict[str, str]:
    return {
        "platform": "payments-platform",
        "environment": env.name,
        "environment-suffix": env.suffix,
        "data-classification": "pci",
        "managed-by": "cdktf",
        **dict(env.tags),
    }


class _PluginRoles:
    """IAM roles and their grants. Who may add statements to whose role is core/roles.py's rule set:
    your own roles freely; another plugin's role only as received in a value you declared
    (``ctx[keys.TRANSACTION_PROCESSOR].role``), for access to what you own; a published resource only
    through its value's grants."""

    def __init__(self, registry: RoleRegistry, ctx: PluginContext) -> None:
        self._registry = registry
        self._ctx = ctx

    def role(
        self,
        key: str,
        *,
        description: str,
        service: str = "lambda.amazonaws.com",
        trust_conditions: Mapping[str, Any] | None = None,
    ) -> Role:
        """Create a role named ``{key}-role-{suffix}`` trusted by ``service`` (only when
        ``trust_conditions`` hold, if given: e.g. ``aws:SourceArn`` against confused deputies)."""
        name = self._ctx.naming.name(f"{key}-role", kind="iam_role")
        return self._registry.role(
            key,
            service=service,
            description=description,
            plugin=self._ctx.name,
            scope=self._ctx.scope,
            name=name,
            trust_conditions=trust_conditions,
        )

    def get(self, key: str) -> Role:
        """One of your own roles by its key. Another plugin's role by key is deprecated: declare the
        key that publishes it and read ``.role`` from its value."""
        role = self._registry.get(key)
        if role.owner != self._ctx.name:
            self._breach(f"read role '{key}' of plugin '{role.owner}' by name", self._publishing_key_hint(role))
        return role

    def grant(
        self,
        role: str | Role | Function,
        *,
        sid: str,
        actions: Sequence[str],
        resources: Sequence[str],
        conditions: Mapping[str, Any] | None = None,
        any_resource_reason: str | None = None,
    ) -> Statement:
        """Add a least-privilege statement to ``role`` (a role, or a function: its execution role):
        specific actions on specific resources (``*`` only with ``any_resource_reason``). For your
        own resources; a published table, queue, topic or key is reached through its value's grants."""
        grantee = role_of(role)
        target = self._registry.get(grantee if isinstance(grantee, str) else grantee.key)
        self._check_grant(grantee, target, sid, resources)
        return self._registry.grant(
            target,
            sid=sid,
            actions=actions,
            resources=resources,
            plugin=self._ctx.name,
            conditions=conditions,
            any_resource_reason=any_resource_reason,
        )

    def holds_grant_on(self, role: str | Role | Function, resource: str) -> bool:
        """Whether ``role`` (or a function's role) already holds a statement naming ``resource``
        (whoever granted it)."""
        grantee = role_of(role)
        target = self._registry.get(grantee if isinstance(grantee, str) else grantee.key)
        return any(resource in statement.resources for statement in target.statements)

    def all(self) -> list[Role]:
        """Every role registered so far, sorted by key (to read, e.g. for a report)."""
        return list(self._registry.roles())

    # -- the rules of core/roles.py ------------------------------------------------
    def _check_grant(self, role: str | Role, target: Role, sid: str, resources: Sequence[str]) -> None:
        where = f"granted '{sid}' to role '{target.key}' of plugin '{target.owner}'"
        if target.owner != self._ctx.name:
            if isinstance(role, str):
                self._breach(f"{where} by name", self._publishing_key_hint(target))
            elif not self._received(target):
                self._breach(f"{where} without receiving it in a declared key", self._publishing_key_hint(target))
        if not in_value_grant():
            for resource in resources:
                published = self._published_resource(resource)
                if published is not None:
                    key_name, grants_hint = published
                    self._breach(
                        f"granted '{sid}' to role '{target.key}' with a raw statement on {resource!r}, published as "
                        f"'{key_name}'",
                        f"ask the published value instead ({grants_hint})",
                    )

    def _received(self, target: Role) -> bool:
        """Whether ``target`` reached this plugin in the value of a key it declared."""
        declared = {key.name for key in (*self._ctx.declaration.requires, *self._ctx.declaration.uses)}
        return any(
            _role_of(value) == target.key for name, (value, _) in self._ctx._build.values.items() if name in declared
        )

    def _publishing_key_hint(self, target: Role) -> str:
        for name, (value, _) in sorted(self._ctx._build.values.items()):
            if _role_of(value) == target.key:
                constant = _constant_name(name)
                return (
                    f"declare {constant} ('{name}') in 'requires' or 'uses' and pass ctx[{constant}].role "
                    "to your value's grant"
                )
        return f"no key publishes role '{target.key}': ask plugin '{target.owner}' to publish it in a value"

    def _published_resource(self, resource: str) -> tuple[str, str] | None:
        """(key name, its grants) when ``resource`` is, or is inside, a resource another plugin published."""
        for name, (value, publisher) in sorted(self._ctx._build.values.items()):
            if publisher == self._ctx.name:
                continue
            grants_hint = _GRANTS_OF.get(type(value))
            if grants_hint is None:
                continue
            for arn in (getattr(value, "arn", ""), getattr(value, "stream_arn", "")):
                # "/": inside a table (its indexes, backups); ":": a function's alias or version
                if arn and (resource == arn or resource.startswith((f"{arn}/", f"{arn}:"))):
                    return name, f"ctx[{_constant_name(name)}].{grants_hint}"
        return None

    def _breach(self, what: str, instead: str) -> None:
        message = f"plugin '{self._ctx.name}' {what}: {instead}"
        if not _accepts_api_1_0(self._ctx.declaration.requires_api):
            raise RegistrationError(message)
        _warn_from_plugin_code(
            f"{message} (deprecated in plugin API 1.1, refused for plugins written for 1.1 and in 2.0)"
        )


_GRANTS_OF: dict[type, str] = {
    _keys.Table: "grant / grant_read / grant_write / grant_index_query / grant_backup / grant_export / "
    "grant_stream_read",
    _keys.Queue: "grant_send / grant_consume",
    _keys.Topic: "grant_publish / subscribe_queue / subscribe_function",
    _keys.KmsKey: "grant_use",
    _keys.Function: "grant_invoke",
}


def _role_of(value: Any) -> str | None:
    """The key of the role a published value carries (a ``Function``'s), else None."""
    role = getattr(value, "role", None)
    return role.key if isinstance(role, Role) else None


def _constant_name(key_name: str) -> str:
    for constant, value in vars(_keys).items():
        if isinstance(value, ContextKey) and value.name == key_name:
            return f"keys.{constant}"
    return f"the key '{key_name}'"


def _accepts_api_1_0(requires_api: str) -> bool:
    """Whether a plugin may have been written for plugin API 1.0 (no range, or one admitting 1.0)."""
    if not requires_api:
        return True
    try:
        return "1.0" in SpecifierSet(requires_api)
    except InvalidSpecifier:
        return True  # refused when the plugin loads; never reached


_CORE_DIR = os.path.dirname(os.path.abspath(__file__))


def _warn_from_plugin_code(message: str) -> None:
    """Warn, attributed to the innermost caller outside the core (the plugin's own line)."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_CORE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        warnings.warn(message, PluginDeprecationWarning, stacklevel=2)
        return
    warnings.warn_explicit(
        message,
        PluginDeprecationWarning,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=frame.f_globals.get("__name__"),
        registry=frame.f_globals.setdefault("__warningregistry__", {}),
    )


class _PluginMonitoring:
    def __init__(self, registry: MonitoringRegistry, plugin: str, scope: Any = None) -> None:
        self._registry = registry
        self._plugin = plugin
        self._scope = scope

    def function(self, key: str, *, function_name: str, log_group_name: str) -> MonitoredFunction:
        return self._registry.functions.add(MonitoredFunction(key, function_name, log_group_name, self._plugin))

    def table(self, key: str, *, table_name: str) -> MonitoredTable:
        return self._registry.tables.add(MonitoredTable(key, table_name, self._plugin))

    def api(self, key: str, *, api_name: str, stage_name: str) -> MonitoredApi:
        return self._registry.apis.add(MonitoredApi(key, api_name, stage_name, self._plugin))

    def queue(self, key: str, *, queue_name: str, dead_letter_for: str | None = None) -> MonitoredQueue:
        return self._registry.queues.add(MonitoredQueue(key, queue_name, self._plugin, dead_letter_for))

    def log_group(self, key: str, *, log_group_name: str, log_group_arn: str) -> MonitoredLogGroup:
        return self._registry.log_groups.add(MonitoredLogGroup(key, log_group_name, log_group_arn, self._plugin))

    def metric_widget(
        self, key: str, *, title: str, metrics: Sequence[Metric], period_seconds: int = 60
    ) -> MetricWidget:
        """Put one graph of ``metrics`` on the platform dashboard, titled ``title``, each
        metric aggregated over ``period_seconds`` (10, 30 or a multiple of 60). ``key`` is
        unique among metric widgets (lowercase letters, digits, hyphens); graphs are laid out
        after the built-in sections, sorted by key."""
        where = f"metric widget '{key}'"
        check_key(key, self._plugin, "metric widget")
        if not title:
            raise RegistrationError(f"plugin '{self._plugin}' {where}: a widget needs a title")
        if isinstance(metrics, Metric) or not metrics:
            raise RegistrationError(f"plugin '{self._plugin}' {where}: metrics must be a non-empty sequence of Metric")
        for metric in metrics:
            check_metric(metric, self._plugin, where)
        check_period(period_seconds, self._plugin, where)
        return self._registry.metric_widgets.add(MetricWidget(key, title, tuple(metrics), period_seconds, self._plugin))

    def alarm(
        self,
        key: str,
        *,
        metric: Metric,
        threshold: float,
        description: str,
        comparison: str = "GreaterThanOrEqualToThreshold",
        period_seconds: int = 60,
        evaluation_periods: int = 1,
        treat_missing_data: str = "notBreaching",
        moved_from: str | None = None,
    ) -> MetricAlarm:
        """Alarm when ``metric`` (its ``stat`` over ``period_seconds``) compares to
        ``threshold`` by ``comparison`` for ``evaluation_periods`` consecutive periods.
        The observability plugin creates it as ``<key>-<suffix>`` with the notifications
        topic as ALARM and OK action. ``description`` is what the responder reads: say what
        broke and what to do. ``treat_missing_data``: ``notBreaching`` (default),
        ``breaching``, ``ignore`` or ``missing``. ``moved_from``: the Terraform address
        (``aws_cloudwatch_metric_alarm.<name>``) of this same alarm when the plugin built it
        itself before; the alarm gets a ``moved`` block from there, so Terraform keeps it
        instead of replacing it. Without an enabled plugin rendering alarms (observability),
        no registered alarm is created."""
        where = f"alarm '{key}'"
        check_key(key, self._plugin, "alarm")
        check_metric(metric, self._plugin, where)
        check_period(period_seconds, self._plugin, where)
        check_moved_from(moved_from, self._plugin, where)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise RegistrationError(f"plugin '{self._plugin}' {where}: threshold {threshold!r} is not a number")
        if not description:
            raise RegistrationError(f"plugin '{self._plugin}' {where}: an alarm needs a description for its responder")
        if comparison not in COMPARISONS:
            raise RegistrationError(
                f"plugin '{self._plugin}' {where}: comparison '{comparison}' is not one of {', '.join(sorted(COMPARISONS))}"
            )
        if isinstance(evaluation_periods, bool) or not isinstance(evaluation_periods, int) or evaluation_periods < 1:
            raise RegistrationError(
                f"plugin '{self._plugin}' {where}: evaluation_periods {evaluation_periods!r} must be a positive integer"
            )
        if treat_missing_data not in TREAT_MISSING_DATA:
            raise RegistrationError(
                f"plugin '{self._plugin}' {where}: treat_missing_data '{treat_missing_data}' is not one of "
                f"{', '.join(sorted(TREAT_MISSING_DATA))}"
            )
        return self._registry.alarms.add(
            MetricAlarm(
                key,
                metric,
                float(threshold),
                description,
                comparison,
                period_seconds,
                evaluation_periods,
                treat_missing_data,
                self._plugin,
                moved_from,
            )
        )

    @property
    def functions(self) -> list[MonitoredFunction]:
        return list(self._registry.functions.all())

    @property
    def tables(self) -> list[MonitoredTable]:
        return list(self._registry.tables.all())

    @property
    def apis(self) -> list[MonitoredApi]:
        return list(self._registry.apis.all())

    @property
    def queues(self) -> list[MonitoredQueue]:
        return list(self._registry.queues.all())

    @property
    def log_groups(self) -> list[MonitoredLogGroup]:
        """Every log group of the stack (PCI DSS 10.2: each belongs to the audit trail): the
        registered ones under their keys, then any other ``aws_cloudwatch_log_group`` any plugin
        made, under its construct id (``_log_group`` dropped, ``-`` for ``_``) and plugin ``""``
        -- so a log group nobody registered is still archived. Complete only in ``finalize``."""
        registered = list(self._registry.log_groups.all())
        if self._scope is None:
            return registered
        from payments_platform.core.cdktf_adapter import terraform_reference, terraform_resources

        known = {terraform_reference(self._scope, group.log_group_arn) for group in registered}
        keys = {group.key for group in registered}
        discovered = []
        for resource in terraform_resources(self._scope, "aws_cloudwatch_log_group"):
            if terraform_reference(self._scope, resource.arn) in known:
                continue
            key = resource.node.id.removesuffix("_log_group").replace("_", "-")
            if key in keys:
                raise RegistrationError(
                    f"log group '{resource.node.path}': its key '{key}' is a registered log group's; "
                    "register it with ctx.monitoring.log_group under a key of its own"
                )
            keys.add(key)
            discovered.append(MonitoredLogGroup(key, resource.name, resource.arn, ""))
        return registered + discovered

    @property
    def metric_widgets(self) -> list[MetricWidget]:
        return list(self._registry.metric_widgets.all())

    @property
    def alarms(self) -> list[MetricAlarm]:
        return list(self._registry.alarms.all())


class _PluginPolicy:
    def __init__(self, build: BuildContext, plugin: str) -> None:
        self._build = build
        self._plugin = plugin

    def suppress(self, construct: Any, rule: str, reason: str) -> None:
        """Exempt one resource from one policy rule; the reason is kept in the report."""
        if not reason or len(reason) < 10:
            raise RegistrationError(f"plugin '{self._plugin}' suppressed rule '{rule}' without a real reason")
        self._build.suppressions.append(Suppression(construct.node.path, rule, reason, self._plugin))

    def allow_key_use(self, sid: str, statement: dict[str, Any]) -> None:
        """Add a statement to the platform CMK's key policy (e.g. a service principal)."""
        if any(s.sid == sid for s in self._build.key_policy):
            raise RegistrationError(f"plugin '{self._plugin}' added key policy statement '{sid}' twice")
        if statement.get("Action") in ("*", "kms:*"):
            raise RegistrationError(f"plugin '{self._plugin}': key policy statement '{sid}' must list specific actions")
        self._build.key_policy.append(KeyPolicyStatement(sid, {"Sid": sid, **statement}, self._plugin))


class _PluginOutputs:
    def __init__(self, build: BuildContext, plugin: str) -> None:
        self._build = build
        self._plugin = plugin

    def add(self, name: str, value: Any, *, description: str, sensitive: bool = False) -> None:
        if name in self._build.outputs:
            other = self._build.outputs[name].plugin
            raise RegistrationError(f"plugin '{self._plugin}' added output '{name}', already added by plugin '{other}'")
        self._build.outputs[name] = Output(name, value, description, self._plugin, sensitive)
