"""Helpers for testing plugins — part of the product, for third-party authors too.

    from payments_platform.core.testing import make_environment, stub_provider, synth, assert_resource

``synth`` builds one stack with exactly the plugins you name (installed or in-process),
runs every policy rule, and returns the synthesized Terraform JSON wrapped for querying.
Results are cached per configuration for the test session: synthesizing is the slow part.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from payments_platform.core.declaration import PluginDeclaration
from payments_platform.core.environment import EnvironmentConfig, RegionPlan
from payments_platform.core.errors import ConfigError
from payments_platform.core.hookspec import hookimpl
from payments_platform.core.keys import (
    AUDIT_QUEUE,
    CARD_FINGERPRINT_ROTATOR,
    NETWORK,
    NOTIFICATIONS_TOPIC,
    REST_API,
    RUNTIME_PACKAGE,
    STATUS_CHECKER,
    TRANSACTION_PROCESSOR,
    TRANSACTION_RECONCILER,
    TRANSACTIONS_TABLE,
    ContextKey,
    Function,
    FunctionPackage,
    Network,
    Queue,
    RestApi,
    Table,
    TableIndex,
    Topic,
)
from payments_platform.core.roles import RoleRegistry

TEST_ACCOUNT = "123456789012"


def make_environment(
    plugins: Iterable[str],
    *,
    name: str = "test",
    suffix: str = "test",
    region: str | None = "us-east-1",
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    tags: Mapping[str, str] | None = None,
) -> EnvironmentConfig:
    return EnvironmentConfig(
        name=name,
        suffix=suffix,
        regions=RegionPlan(region),
        plugins=tuple(sorted(plugins)),
        settings={k: dict(v) for k, v in (settings or {}).items()},
        tags=dict(tags or {}),
    )


@dataclass(frozen=True)
class StubFunction:
    """What a stub provider publishes as a :class:`~payments_platform.core.keys.Function`: the
    names and ARNs as given, and a real role ``role_key`` it creates in the build (owned by the
    stub), so a grant to it renders a policy ``stack.iam_statements(role_key)`` returns."""

    name: str
    arn: str
    role_key: str
    log_group_name: str
    log_group_arn: str


class StubProvider:
    """An in-process plugin that publishes fixed values for keys, standing in for real plugins.
    A :class:`StubFunction` value is published as a ``Function`` whose role the stub creates."""

    def __init__(self, name: str, values: Mapping[ContextKey[Any], Any]) -> None:
        self.name = name
        self.values = dict(values)

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name=self.name,
            description=f"test stub providing {', '.join(k.name for k in self.values)}",
            provides=tuple(self.values),
        )

    @hookimpl
    def payments_foundation(self, ctx: Any) -> None:
        for key, value in self.values.items():
            if isinstance(value, StubFunction):
                role = ctx.roles.role(value.role_key, description=f"test stub: the role of {key.name}")
                value = Function(
                    name=value.name,
                    arn=value.arn,
                    role=role,
                    log_group_name=value.log_group_name,
                    log_group_arn=value.log_group_arn,
                    key=value.role_key,
                    physical_name=value.name,
                )
            ctx[key] = value


def stub_values(suffix: str = "test", region: str = "us-east-1") -> dict[ContextKey[Any], Any]:
    """Realistic stand-ins for every well-known key a platform plugin provides."""
    arn = f"arn:aws:{{}}:{region}:{TEST_ACCOUNT}:{{}}"
    # The stand-in for the provider's own CMK (a real provider may use any key; grants follow it).
    kms_key_arn = arn.format("kms", "key/00000000-0000-4000-8000-00000000stub")
    return {
        NETWORK: Network(
            vpc_id="vpc-0stub",
            vpc_cidr="10.40.0.0/16",
            private_subnet_ids=("subnet-0stuba", "subnet-0stubb"),
            public_subnet_ids=("subnet-0puba", "subnet-0pubb"),
            lambda_security_group_id="sg-0stublambda",
            private_route_table_ids=("rtb-0stuba", "rtb-0stubb"),
            endpoint_security_group_id="sg-0stubendpoints",
        ),
        TRANSACTIONS_TABLE: Table(
            name=f"payment-transactions-{suffix}",
            arn=arn.format("dynamodb", f"table/payment-transactions-{suffix}"),
            hash_key="transaction_id",
            range_key="timestamp",
            indexes=(TableIndex(name="dispatch-pending", hash_key="dispatch_pending", range_key="lease_expires_at"),),
            kms_key_arn=kms_key_arn,
            region=region,
        ),
        AUDIT_QUEUE: Queue(
            name=f"transaction-queue-{suffix}.fifo",
            arn=arn.format("sqs", f"transaction-queue-{suffix}.fifo"),
            url=f"https://sqs.{region}.amazonaws.com/{TEST_ACCOUNT}/transaction-queue-{suffix}.fifo",
            fifo=True,
            dead_letter_queue_arn=arn.format("sqs", f"transaction-queue-dlq-{suffix}.fifo"),
            kms_key_arn=kms_key_arn,
            region=region,
        ),
        NOTIFICATIONS_TOPIC: Topic(
            name=f"payment-notifications-{suffix}",
            arn=arn.format("sns", f"payment-notifications-{suffix}"),
            kms_key_arn=kms_key_arn,
            region=region,
            physical_arn=arn.format("sns", f"payment-notifications-{suffix}"),
            event_type_attribute="event_type",
        ),
        REST_API: RestApi(
            name=f"payments-api-{suffix}",
            rest_api_id="abc123stub",
            arn=f"arn:aws:apigateway:{region}::/restapis/abc123stub",
            stage_name="prod",
            stage_arn=f"arn:aws:apigateway:{region}::/restapis/abc123stub/stages/prod",
            execution_arn=arn.format("execute-api", "abc123stub"),
            invoke_url=f"https://abc123stub.execute-api.{region}.amazonaws.com/prod",
            usage_plan_id="usageplanstub",
        ),
        RUNTIME_PACKAGE: FunctionPackage(
            code={"filename": "assets/stub/lambda.zip"},
            source_code_hash="c3R1Yi1wYWNrYWdlLWhhc2g=",
            runtime="python3.12",
            architecture="arm64",
        ),
        **{key: _stub_function(key, suffix, region) for key in FUNCTION_KEYS},
    }


# The function keys a stub provider can publish without being given a value: each role key is the
# function's base name, as the api plugin's own roles are keyed.
FUNCTION_KEYS: tuple[ContextKey[Function], ...] = (
    TRANSACTION_PROCESSOR,
    STATUS_CHECKER,
    TRANSACTION_RECONCILER,
    CARD_FINGERPRINT_ROTATOR,
)


def _stub_function(key: ContextKey[Function], suffix: str, region: str) -> StubFunction:
    base = key.name.split(".", 1)[1].replace("_", "-")
    name = f"{base}-{suffix}"
    log_group = f"/aws/lambda/{name}"
    return StubFunction(
        name=name,
        arn=f"arn:aws:lambda:{region}:{TEST_ACCOUNT}:function:{name}",
        role_key=base,
        log_group_name=log_group,
        log_group_arn=f"arn:aws:logs:{region}:{TEST_ACCOUNT}:log-group:{log_group}",
    )


class RecordingRoles:
    """``ctx.roles`` for testing grant helpers without a synth: a real registry holding one
    role ``fn``, granting as ``plugin``; ``statements()`` maps Sid → rendered statement."""

    def __init__(self, plugin: str = "api", role: str = "fn") -> None:
        self.plugin, self.role = plugin, role
        self.registry = RoleRegistry(lambda scope, key, name, service, description: (None, None))
        self.registry.role(
            role, service="lambda.amazonaws.com", description="test", plugin=plugin, scope=None, name=role
        )

    def grant(self, role: Any, **kwargs: Any) -> Any:
        return self.registry.grant(role, plugin=self.plugin, **kwargs)

    def holds_grant_on(self, role: Any, resource: str) -> bool:
        target = self.registry.get(role if isinstance(role, str) else role.key)
        return any(resource in statement.resources for statement in target.statements)

    def statements(self) -> dict[str, dict[str, Any]]:
        return {s.sid: s.render() for s in self.registry.get(self.role).statements}


def stub_provider(
    name: str,
    keys: Iterable[ContextKey[Any]],
    suffix: str = "test",
    *,
    values: Mapping[ContextKey[Any], Any] | None = None,
) -> StubProvider:
    """A stub plugin called ``name`` providing ``keys``: with ``values[key]`` where given (any key,
    your own plugin's included), else with :func:`stub_values`. A function key
    (:data:`FUNCTION_KEYS`) is published with a role the stub creates, keyed as the real one: the
    key's name after the plugin's prefix, dashed (``api.status_checker`` → ``status-checker``), so a
    test can grant to it and read the policy::

        stubs = stub_provider("api", [keys.STATUS_CHECKER])
        stack = synth(["fraud_screen"], extra_plugins={"api": stubs})
        stack.iam_statements("status-checker")
    """
    given = dict(values or {})
    defaults = stub_values(suffix)
    chosen: dict[ContextKey[Any], Any] = {}
    for key in keys:
        if key in given:
            chosen[key] = given[key]
        elif key in defaults:
            chosen[key] = defaults[key]
        else:
            raise ConfigError(
                f"stub_provider({name!r}): no stand-in for '{key.name}'; pass one: values={{{key.name!r}: ...}}"
            )
    unused = [key.name for key in given if key not in chosen]
    if unused:
        raise ConfigError(f"stub_provider({name!r}): values for keys not in keys: {', '.join(sorted(unused))}")
    return StubProvider(name, chosen)


@dataclass
class SynthesizedStack:
    """One synthesized stack's Terraform JSON, with query helpers."""

    name: str
    config: dict[str, Any]
    built: Any = field(repr=False, default=None)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """``{logical_id: body}`` of every resource of a type (empty when none)."""
        return dict((self.config.get("resource") or {}).get(resource_type, {}))

    def data_sources(self, data_type: str) -> dict[str, dict[str, Any]]:
        return dict((self.config.get("data") or {}).get(data_type, {}))

    def resource_types(self) -> set[str]:
        return set((self.config.get("resource") or {}).keys())

    def one(self, resource_type: str, **match: Any) -> dict[str, Any]:
        """The single resource of a type whose top-level attributes equal ``match``."""
        __tracebackhide__ = True
        found = [
            body for body in self.resources(resource_type).values() if all(body.get(k) == v for k, v in match.items())
        ]
        if len(found) != 1:
            raise AssertionError(
                f"expected exactly one {resource_type} matching {match}, found {len(found)}"
                + _listing(self.resources(resource_type))
            )
        return found[0]

    def by_path(self, path_suffix: str) -> tuple[str, dict[str, Any]]:
        """(type, body) of the resource whose construct path ends with ``path_suffix``."""
        __tracebackhide__ = True
        for rtype, items in (self.config.get("resource") or {}).items():
            for body in items.values():
                if body.get("//", {}).get("metadata", {}).get("path", "").endswith(path_suffix):
                    return rtype, body
        raise AssertionError(f"no resource with construct path ending {path_suffix!r}")

    def outputs(self) -> dict[str, Any]:
        return dict(self.config.get("output") or {})

    def json(self) -> str:
        return json.dumps(self.config)

    def iam_statements(self, role_key: str) -> list[dict[str, Any]]:
        """The statements of the inline policy rendered for role ``role_key``."""
        __tracebackhide__ = True
        for body in self.resources("aws_iam_role_policy").values():
            path = body["//"]["metadata"]["path"]
            if path.endswith(f"/role_{role_key}_policy"):
                return json.loads(body["policy"])["Statement"]
        raise AssertionError(f"no rendered policy for role {role_key!r}")


def _listing(resources: Mapping[str, Any]) -> str:
    if not resources:
        return " (there are none)"
    return "\n" + "\n".join(f"  {k}: {json.dumps(_strip(v), sort_keys=True)[:300]}" for k, v in resources.items())


def _strip(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "//"}


ListMatching = Literal["exact", "subset"]
LIST_RULES: dict[str, str] = {
    "exact": "lists must match in length and order",
    "subset": "each expected list item must match a different item of the actual list, in any order",
}


def _subset(expected: Any, actual: Any, lists: ListMatching = "exact") -> bool:
    """``expected`` is found in ``actual``: dicts as subsets at every depth, lists per ``lists``."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k], lists) for k, v in expected.items()
        )
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        if lists == "exact":
            return len(expected) == len(actual) and all(_subset(e, a, lists) for e, a in zip(expected, actual))
        return _distinct_matches(expected, actual, lists)
    return expected == actual


def _distinct_matches(expected: list[Any], actual: list[Any], lists: ListMatching) -> bool:
    """Every expected item matched to its own actual item (bipartite matching by augmenting
    paths, so a loose pattern listed first cannot take the item a stricter one needs)."""
    owner: dict[int, int] = {}  # actual index -> expected index

    def place(e: int, seen: set[int]) -> bool:
        for a, item in enumerate(actual):
            if a not in seen and _subset(expected[e], item, lists):
                seen.add(a)
                if a not in owner or place(owner[a], seen):
                    owner[a] = e
                    return True
        return False

    return all(place(e, set()) for e in range(len(expected)))


def assert_resource(
    stack: SynthesizedStack, resource_type: str, properties: Mapping[str, Any], *, lists: ListMatching = "exact"
) -> None:
    """Assert some ``resource_type`` in ``stack`` has ``properties``, and on failure show a
    readable diff against the closest candidate instead of ``False is not true``.

    Dicts match as subsets at every depth (unnamed attributes are ignored). Lists follow
    ``lists``: ``"exact"`` (the default) — same length, items matched in order;
    ``"subset"`` — each expected item matches a different actual item, in any order, and
    the actual list may hold more (e.g. one statement among a policy's, one rule of many).
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not ours
    if lists not in LIST_RULES:
        raise ValueError(f"lists must be one of {', '.join(map(repr, LIST_RULES))}, not {lists!r}")
    candidates = list(stack.resources(resource_type).items())
    if not candidates:
        raise AssertionError(f"{stack.name} has no {resource_type} at all")
    if any(_subset(dict(properties), body, lists) for _, body in candidates):
        return

    def distance(item: tuple[str, dict[str, Any]]) -> int:
        return sum(1 for k, v in properties.items() if not _subset(v, item[1].get(k), lists))

    logical_id, closest = min(candidates, key=distance)
    wanted = {k: properties[k] for k in sorted(properties)}
    actual = {k: closest.get(k, "<missing>") for k in sorted(properties)}
    diff = "\n".join(
        difflib.unified_diff(
            json.dumps(wanted, indent=2, sort_keys=True).splitlines(),
            json.dumps(actual, indent=2, sort_keys=True).splitlines(),
            fromfile="expected",
            tofile=f"{resource_type}.{logical_id}",
            lineterm="",
        )
    )
    raise AssertionError(
        f"no {resource_type} in {stack.name} has the expected properties "
        f"(lists={lists!r}: {LIST_RULES[lists]}); closest:\n{diff}"
    )


_CACHE: dict[str, SynthesizedStack] = {}


def synth(
    plugins: Iterable[str],
    *,
    extra_plugins: Mapping[str, Any] | None = None,
    environment: EnvironmentConfig | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    suffix: str = "test",
    region: str | None = "us-east-1",
    cache: bool = True,
) -> SynthesizedStack:
    """Synthesize one stack with ``plugins`` enabled (names of installed plugins and of
    ``extra_plugins``). Cached per configuration unless ``cache=False``; in-process plugin
    objects are part of the cache key by identity."""
    from payments_platform.core.host.synth import synthesize

    plugin_names = sorted(set(plugins) | set(extra_plugins or {}))
    env = environment or make_environment(plugin_names, suffix=suffix, region=region, settings=settings)
    # Every field of the environment counts: derived, so a new field can never be left out.
    key = json.dumps(
        [dataclasses.asdict(env), sorted((n, id(p)) for n, p in (extra_plugins or {}).items())],
        sort_keys=True,
        default=str,
    )
    if cache and key in _CACHE:
        return _CACHE[key]
    with tempfile.TemporaryDirectory(prefix="payments-synth-") as tmp:
        result = synthesize([env], f"{tmp}/out", extra_plugins=extra_plugins)
    built = result.built[0]
    stack = SynthesizedStack(built.name, result.configs[built.name], built)
    if cache:
        _CACHE[key] = stack
    return stack
