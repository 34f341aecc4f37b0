"""Platform policy rules, checked on the synthesized Terraform JSON (cdk-nag style).

Rules run on exactly what Terraform will receive. A violation names the rule, the
resource address, its construct path and the plugin that created it; a resource can be
exempted from one rule with ``ctx.policy.suppress(construct, rule, reason)``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from payments_platform.core.builders import PLANNED_P99_TAGS
from payments_platform.core.context import Suppression
from payments_platform.core.declaration import LOG_RETENTION_DAYS
from payments_platform.core.host.egress_check import egress_warnings

NAME_ATTRIBUTES = ("name", "function_name", "dashboard_name", "alarm_name")

# Names that are scoped to a parent resource (not account-wide) need no suffix.
NAME_SUFFIX_EXEMPT = {
    "aws_api_gateway_model": "scoped to its REST API, and must be alphanumeric",
    "aws_api_gateway_request_validator": "scoped to its REST API",
    "aws_api_gateway_authorizer": "scoped to its REST API",
}

DELETION_FLAGS = ("deletion_protection", "deletion_protection_enabled", "skip_destroy", "prevent_destroy_on_delete")
MAX_KMS_DELETION_WINDOW = 7


@dataclass(frozen=True)
class Resource:
    type: str
    logical_id: str
    body: Mapping[str, Any]

    @property
    def path(self) -> str:
        return str(self.body.get("//", {}).get("metadata", {}).get("path", ""))

    @property
    def plugin(self) -> str:
        parts = self.path.split("/")
        if len(parts) < 2:
            return "core"
        return "core" if parts[1] in ("platform", "") else parts[1]

    @property
    def address(self) -> str:
        return f"{self.type}.{self.logical_id}"


@dataclass(frozen=True)
class PolicyInput:
    suffix: str
    platform_tags: Mapping[str, str]
    taggable_types: frozenset[str]
    any_resource_sids: frozenset[str]
    # The platform network's private subnets as they appear in the synthesized JSON
    # ("${aws_subnet.<id>.id}"); empty when no plugin provides the network.
    private_subnet_ids: frozenset[str] = frozenset()


Rule = Callable[[Resource, PolicyInput], Iterable[str]]
RULES: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[rule_id] = fn
        return fn

    return register


def _literal(value: Any) -> bool:
    return isinstance(value, str) and "${" not in value


@rule("PP-NAME-SUFFIX")
def name_has_suffix(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """Every named resource carries the environment suffix ({resource-type}-{environmentSuffix})."""
    if resource.type in NAME_SUFFIX_EXEMPT:
        return
    pattern = re.compile(rf"(^|[-/_]){re.escape(policy.suffix)}($|[-/._:])")
    for attribute in NAME_ATTRIBUTES:
        value = resource.body.get(attribute)
        if isinstance(value, str) and _literal(value) and not pattern.search(value):
            yield f"{attribute} {value!r} does not carry the environment suffix '{policy.suffix}'"


@rule("PP-TAGS")
def has_platform_tags(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """Every taggable resource carries the platform tags, unchanged."""
    if resource.type not in policy.taggable_types:
        return
    tags = resource.body.get("tags") or {}
    missing = sorted(k for k, v in policy.platform_tags.items() if tags.get(k) != v)
    if missing:
        yield f"platform tag(s) missing or overridden: {', '.join(missing)}"


@rule("PP-DESTROYABLE")
def is_destroyable(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """Nothing is retained on destroy: no deletion protection, no prevent_destroy, short KMS window."""
    for flag in DELETION_FLAGS:
        if resource.body.get(flag) is True:
            yield f"{flag} is set; every platform resource must be destroyable"
    if (resource.body.get("lifecycle") or {}).get("prevent_destroy") is True:
        yield "lifecycle.prevent_destroy is set"
    if resource.type == "aws_kms_key":
        window = resource.body.get("deletion_window_in_days")
        if not isinstance(window, int) or window > MAX_KMS_DELETION_WINDOW:
            yield f"deletion_window_in_days must be set and at most {MAX_KMS_DELETION_WINDOW} (is {window!r})"


@rule("PP-LOG-GROUP")
def log_group_retained_and_encrypted(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """Every log group has a retention period and is encrypted with the platform CMK."""
    if resource.type != "aws_cloudwatch_log_group":
        return
    retention = resource.body.get("retention_in_days")
    if not retention:
        yield "log group has no retention_in_days"
    elif retention not in LOG_RETENTION_DAYS:
        yield f"retention_in_days {retention} is not a period CloudWatch Logs accepts"
    if not resource.body.get("kms_key_id"):
        yield "log group has no kms_key_id"


@rule("PP-IAM-LEAST-PRIVILEGE")
def iam_least_privilege(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """No wildcard actions; Resource '*' only on statements registered with a reason."""
    if resource.type not in ("aws_iam_role_policy", "aws_iam_policy"):
        return
    document = resource.body.get("policy")
    if not isinstance(document, str):
        yield "policy is not an inline JSON document"
        return
    try:
        statements = json.loads(document).get("Statement", [])
    except json.JSONDecodeError:
        yield "policy is not valid JSON"
        return
    for statement in statements if isinstance(statements, list) else [statements]:
        sid = statement.get("Sid", "?")
        if "NotAction" in statement or "NotResource" in statement:
            yield f"statement {sid} uses NotAction/NotResource"
        actions = statement.get("Action", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if "*" in action:
                yield f"statement {sid} uses wildcard action {action!r}"
        resources = statement.get("Resource", [])
        if "*" in ([resources] if isinstance(resources, str) else resources) and sid not in policy.any_resource_sids:
            yield f"statement {sid} grants on Resource '*' without a registered reason"


@rule("PP-KMS-AT-REST")
def encrypted_with_cmk(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """Data stores and messaging are encrypted with the customer-managed key."""
    body = resource.body
    if resource.type == "aws_dynamodb_table":
        sse = body.get("server_side_encryption") or {}
        if not (sse.get("enabled") and sse.get("kms_key_arn")):
            yield "table is not encrypted with the platform CMK"
    elif resource.type in ("aws_sqs_queue", "aws_sns_topic") and not body.get("kms_master_key_id"):
        yield "kms_master_key_id is not set"
    elif resource.type == "aws_lambda_function" and body.get("environment") and not body.get("kms_key_arn"):
        yield "environment variables are not encrypted with the platform CMK (kms_key_arn)"


# The seed's limits for every function (SPEC: ≥ 512 MB, reserved concurrency, X-Ray active, VPC).
MIN_LAMBDA_MEMORY_MB = 512


@rule("PP-LAMBDA-MEMORY")
def lambda_memory(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """Every function has at least 512 MB (CPU scales with memory: less pushes cold starts past the budget)."""
    if resource.type != "aws_lambda_function":
        return
    memory = resource.body.get("memory_size")
    if not isinstance(memory, int) or memory < MIN_LAMBDA_MEMORY_MB:
        yield f"memory_size is {memory if memory is not None else 'unset (128 MB)'}; at least {MIN_LAMBDA_MEMORY_MB} MB"


@rule("PP-LAMBDA-CONCURRENCY")
def lambda_reserved_concurrency(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """Every function reserves its concurrency (at least 1): consistent capacity, and a bound on what it costs."""
    if resource.type != "aws_lambda_function":
        return
    reserved = resource.body.get("reserved_concurrent_executions")
    if not isinstance(reserved, int) or reserved < 1:
        shown = "unset" if reserved is None else reserved
        yield f"reserved_concurrent_executions is {shown}; reserve at least 1"


@rule("PP-LAMBDA-XRAY")
def lambda_tracing(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """Every function traces with X-Ray in Active mode."""
    if resource.type != "aws_lambda_function":
        return
    mode = (resource.body.get("tracing_config") or {}).get("mode")
    if mode != "Active":
        yield f"tracing_config.mode is {mode or 'unset'}; X-Ray must be Active"


@rule("PP-LAMBDA-PRIVATE-SUBNETS")
def lambda_in_private_subnets(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """Every function runs in the platform's private subnets (or the plugin suppresses this rule with its reason)."""
    if resource.type != "aws_lambda_function":
        return
    subnets = (resource.body.get("vpc_config") or {}).get("subnet_ids") or []
    if not subnets:
        yield "the function has no vpc_config: run it in the platform's private subnets (keys.NETWORK)"
        return
    if not policy.private_subnet_ids:
        return  # no platform network in this build: nothing to compare with
    if isinstance(subnets, str) or not set(subnets) <= policy.private_subnet_ids:
        yield f"vpc_config.subnet_ids {subnets} are not the platform's private subnets"


@rule("PP-SQS-FIFO-DEDUP")
def fifo_queue_deduplicates(resource: Resource, policy: PolicyInput) -> Iterator[str]:
    """Every FIFO queue deduplicates by content (senders without a MessageDeduplicationId included)."""
    if resource.type == "aws_sqs_queue" and resource.body.get("fifo_queue") is True:
        if resource.body.get("content_based_deduplication") is not True:
            yield "FIFO queue without content_based_deduplication"


def lambda_log_groups(resources: list[Resource]) -> list[str]:
    """Exactly one log group per function (PP-LAMBDA-LOG-GROUP), whichever plugin creates it."""
    groups: dict[str, int] = {}
    for r in resources:
        if r.type == "aws_cloudwatch_log_group" and _literal(r.body.get("name")):
            groups[r.body["name"]] = groups.get(r.body["name"], 0) + 1
    problems = []
    for r in resources:
        name = r.body.get("function_name")
        if r.type == "aws_lambda_function" and _literal(name):
            count = groups.get(f"/aws/lambda/{name}", 0)
            if count != 1:
                problems.append(
                    f"[PP-LAMBDA-LOG-GROUP] {r.address} (plugin '{r.plugin}', path {r.path}): "
                    f"{count} log groups named /aws/lambda/{name}; exactly one is required"
                )
    return problems


KMS_SSE_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def s3_buckets_encrypted(resources: list[Resource], suppressed: set[tuple[str, str]]) -> list[str]:
    """Every bucket has a default encryption configuration with the platform CMK (PP-S3-CMK,
    PCI DSS 3.5.1): provider 5 keeps it in a resource of its own, so a bucket without one
    would silently fall back to S3-managed keys."""
    encrypted: set[str] = set()
    for r in resources:
        if r.type != "aws_s3_bucket_server_side_encryption_configuration":
            continue
        defaults = [
            (rule or {}).get("apply_server_side_encryption_by_default") or {} for rule in r.body.get("rule") or []
        ]
        if any(d.get("sse_algorithm") in KMS_SSE_ALGORITHMS and d.get("kms_master_key_id") for d in defaults):
            encrypted.add(str(r.body.get("bucket")))
    return [
        f"[PP-S3-CMK] {r.address} (plugin '{r.plugin}', path {r.path}): bucket has no default encryption with "
        "the platform CMK (aws_s3_bucket_server_side_encryption_configuration, sse_algorithm aws:kms)"
        for r in resources
        if r.type == "aws_s3_bucket"
        and (r.path, "PP-S3-CMK") not in suppressed
        and not {f"${{{r.address}.id}}", f"${{{r.address}.bucket}}"} & encrypted
    ]


# API Gateway's account-level throttle per region, which applies when no stage or method sets one
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
ACCOUNT_THROTTLE = (10000.0, 5000)
LAMBDA_DEFAULT_TIMEOUT_S = 3
# Lambda's concurrent executions per account and region: the default quota, the part AWS keeps
# unreserved whatever functions reserve, and the Service Quotas code to raise it
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
LAMBDA_DEFAULT_CONCURRENCY_QUOTA = 1000
LAMBDA_UNRESERVED_MINIMUM = 100
LAMBDA_CONCURRENCY_QUOTA_CODE = "L-B99A9384"
PLANNED_P99_MS_TAG, PLANNED_P99_SOURCE_TAG = PLANNED_P99_TAGS
_REFERENCE = re.compile(r"^\$\{(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}$")


@dataclass(frozen=True)
class Throttle:
    rate: float  # requests per second, steady state
    burst: int
    by: str  # which setting it comes from


@dataclass(frozen=True)
class MethodCapacity:
    """What one Lambda-backed method admits, and what its function can serve."""

    method: Resource  # aws_api_gateway_method
    route: str  # "POST /transactions"
    function: str  # function_name
    method_throttle: Throttle  # the method's own, else the stage's */*, else the account's
    client_throttle: Throttle | None  # one client's usage-plan throttle (API-key methods)
    clients: int  # API keys in the usage plans of the method
    reserved_concurrency: int | None
    timeout_s: int
    planned_p99_ms: float | None  # the function's planned service time (its planned-p99-ms tag)
    planned_source: str = ""

    @property
    def admitted(self) -> Throttle:
        """What all clients together get through: the method's throttle, or every client at its plan's."""
        if self.client_throttle is not None and self.clients:
            together = Throttle(
                self.client_throttle.rate * self.clients,
                self.client_throttle.burst * self.clients,
                f"usage plan, {self.clients} client(s)",
            )
            if together.rate < self.method_throttle.rate:
                return Throttle(together.rate, min(together.burst, self.method_throttle.burst), together.by)
        return self.method_throttle

    @property
    def admitted_rate(self) -> float:
        return self.admitted.rate

    @property
    def admitted_burst(self) -> int:
        return min(self.method_throttle.burst, self.admitted.burst)

    @property
    def service_time_ms(self) -> float:
        """The planned p99, else the timeout (every call running to it: the worst case)."""
        return self.planned_p99_ms if self.planned_p99_ms is not None else self.timeout_s * 1000.0

    @property
    def served_rate(self) -> float:
        """Little's law (in flight = rate × duration): the rate its reserved concurrency serves at the
        planned service time."""
        return round((self.reserved_concurrency or 0) * 1000 / self.service_time_ms, 2)

    def served(self) -> str:
        n, p99 = self.reserved_concurrency, self.service_time_ms
        at = (
            f"its planned p99 of {_number(p99)} ms"
            if self.planned_p99_ms is not None
            else f"its {self.timeout_s} s timeout"
        )
        return f"{self.function} serves {n} at once and {_number(self.served_rate)} rps at {at} ({n} ÷ {_number(p99 / 1000)} s)"

    def describe(self) -> str:
        return (
            f"{self.route} admits {_number(self.admitted_rate)} rps, bursts of {self.admitted_burst} "
            f"({self.admitted.by}); {self.served()}"
        )


def _number(value: float) -> str:
    return f"{value:,g}" if value < 1e6 else f"{value:,.0f}"


def _referenced(value: Any, rtype: str) -> str | None:
    match = _REFERENCE.match(value) if isinstance(value, str) else None
    return match[2] if match and match[1] == rtype else None


def _method_throttle(settings: list[Mapping[str, Any]], path: str, verb: str) -> Throttle:
    found = Throttle(*ACCOUNT_THROTTLE, "the account's default")
    for level in ("*/*", f"{path}/{verb}"):
        for body in settings:
            throttle = body.get("settings") or {}
            if body.get("method_path") == level and throttle.get("throttling_rate_limit") is not None:
                # A method's own settings replace the stage's for it.
                found = Throttle(
                    float(throttle["throttling_rate_limit"]),
                    int(throttle["throttling_burst_limit"]),
                    "stage throttle" if level == "*/*" else "method throttle",
                )
    return found


def stage_throttle(resources: list[Resource]) -> Throttle:
    """The stage-wide ``*/*`` throttle (every method without its own), else the account's."""
    settings = [r.body for r in resources if r.type == "aws_api_gateway_method_settings"]
    return _method_throttle(settings, "*", "*")


def _client_throttle(by_type: Mapping[str, Mapping[str, Resource]]) -> tuple[Throttle | None, int]:
    keys_per_plan: dict[str, int] = {}
    for member in by_type.get("aws_api_gateway_usage_plan_key", {}).values():
        plan_key = _referenced(member.body.get("usage_plan_id"), "aws_api_gateway_usage_plan")
        if plan_key is not None:
            keys_per_plan[plan_key] = keys_per_plan.get(plan_key, 0) + 1
    found: Throttle | None = None
    clients = 0
    for plan_id, usage_plan in by_type.get("aws_api_gateway_usage_plan", {}).items():
        plan_throttle = usage_plan.body.get("throttle_settings") or {}
        if plan_throttle.get("rate_limit") is None or not keys_per_plan.get(plan_id):
            continue
        clients += keys_per_plan[plan_id]
        throttle = Throttle(
            float(plan_throttle["rate_limit"]), int(plan_throttle.get("burst_limit") or 0), "usage plan"
        )
        found = throttle if found is None or throttle.rate > found.rate else found  # the most generous client
    return found, clients


def method_capacities(resources: list[Resource]) -> list[MethodCapacity]:
    """Every AWS_PROXY method whose integration invokes a function of this stack."""
    by_type: dict[str, dict[str, Resource]] = {}
    for r in resources:
        by_type.setdefault(r.type, {})[r.logical_id] = r
    api_resources = by_type.get("aws_api_gateway_resource", {})

    def resource_path(logical_id: str | None) -> str:
        parts: list[str] = []
        while logical_id in api_resources:
            body = api_resources[logical_id].body
            parts.insert(0, str(body.get("path_part")))
            logical_id = _referenced(body.get("parent_id"), "aws_api_gateway_resource")
        return "/".join(parts)

    settings = [r.body for r in by_type.get("aws_api_gateway_method_settings", {}).values()]
    client_throttle, clients = _client_throttle(by_type)
    found = []
    for integration in by_type.get("aws_api_gateway_integration", {}).values():
        function_id = _referenced(integration.body.get("uri"), "aws_lambda_function")
        method_id = _referenced(integration.body.get("http_method"), "aws_api_gateway_method")
        if function_id is None or method_id is None or integration.body.get("type") != "AWS_PROXY":
            continue
        method, function = by_type["aws_api_gateway_method"][method_id], by_type["aws_lambda_function"][function_id]
        path = resource_path(_referenced(method.body.get("resource_id"), "aws_api_gateway_resource"))
        verb = str(method.body.get("http_method"))
        reserved = function.body.get("reserved_concurrent_executions")
        tags = function.body.get("tags") or {}
        keyed = bool(method.body.get("api_key_required"))
        found.append(
            MethodCapacity(
                method=method,
                route=f"{verb} /{path}",
                function=str(function.body.get("function_name")),
                method_throttle=_method_throttle(settings, path, verb),
                client_throttle=client_throttle if keyed else None,
                clients=clients if keyed else 0,
                reserved_concurrency=reserved if isinstance(reserved, int) and reserved > 0 else None,
                timeout_s=int(function.body.get("timeout") or LAMBDA_DEFAULT_TIMEOUT_S),
                planned_p99_ms=_planned_p99(tags.get(PLANNED_P99_MS_TAG)),
                planned_source=str(tags.get(PLANNED_P99_SOURCE_TAG) or ""),
            )
        )
    return sorted(found, key=lambda c: c.route)


def _planned_p99(value: Any) -> float | None:
    try:
        p99 = float(value)
    except (TypeError, ValueError):
        return None
    return p99 if p99 > 0 else None


def capacity_violations(resources: list[Resource], suppressed: set[tuple[str, str]]) -> list[str]:
    """PP-CAPACITY: a method admits bursts larger than its function's reserved concurrency (more
    requests at once than it has executions: Lambda is certain to throttle the rest)."""
    return [
        f"[PP-CAPACITY] {c.method.address} (plugin '{c.method.plugin}', path {c.method.path}): {c.describe()}; "
        f"admit bursts of at most {c.reserved_concurrency or 0} (a method-level throttle), or reserve more concurrency"
        for c in method_capacities(resources)
        if (c.method.path, "PP-CAPACITY") not in suppressed
        and (c.reserved_concurrency is None or c.admitted_burst > c.reserved_concurrency)
    ]


def capacity_warnings(c: MethodCapacity) -> Iterator[str]:
    """Where a method's sizing is incoherent, with what to change."""
    if c.planned_p99_ms is None:
        yield (
            f"{c.route}: {c.function} states no planned p99 (tag {PLANNED_P99_MS_TAG}), so it is planned at its "
            f"{c.timeout_s} s timeout, {_number(c.served_rate)} rps; state the p99 it is planned with"
        )
    if c.admitted_rate > c.served_rate + 1e-9:
        needed = math.ceil(round(c.admitted_rate * c.service_time_ms / 1000, 6))
        yield (
            f"{c.describe()}: above {_number(c.served_rate)} rps Lambda answers 503 + Retry-After; "
            f"reserve {needed:,} concurrent executions to serve {_number(c.admitted_rate)} rps, "
            f"or throttle the method at {_number(c.served_rate)} rps"
        )
    client = c.client_throttle
    if client is not None and c.clients > 1:
        method = c.method_throttle
        if client.rate >= method.rate or client.burst >= method.burst:
            yield (
                f"{c.route}: one client's usage plan admits {_number(client.rate)} rps, bursts of {client.burst} -- "
                f"the whole method's {_number(method.rate)} rps, bursts of {method.burst} ({method.by}): one client can "
                f"take the other {c.clients - 1} client(s)' capacity; give each a share, at most "
                f"{_number(round(method.rate / c.clients, 2))} rps and bursts of {max(1, method.burst // c.clients)}"
            )


def reserved_concurrency_total(resources: list[Resource]) -> int:
    return sum(
        r.body["reserved_concurrent_executions"]
        for r in resources
        if r.type == "aws_lambda_function" and isinstance(r.body.get("reserved_concurrent_executions"), int)
    )


def concurrency_quota_needed(resources: list[Resource]) -> int:
    """The account's concurrent executions this stack needs: what it reserves, plus what AWS keeps unreserved."""
    return reserved_concurrency_total(resources) + LAMBDA_UNRESERVED_MINIMUM


def quota_warning(config: Mapping[str, Any], resources: list[Resource]) -> str | None:
    """One line when the stack reserves more than an account's default Lambda quota leaves it."""
    needed = concurrency_quota_needed(resources)
    if needed <= LAMBDA_DEFAULT_CONCURRENCY_QUOTA:
        return None
    providers: list[Mapping[str, Any]] = (config.get("provider") or {}).get("aws") or [{}]
    region = providers[0].get("region") or "its region"
    return (
        f"[PP-CAPACITY] needs a 'Lambda concurrent executions' quota of {needed:,} in {region} "
        f"({reserved_concurrency_total(resources):,} reserved + {LAMBDA_UNRESERVED_MINIMUM} AWS keeps unreserved; "
        f"the default is {LAMBDA_DEFAULT_CONCURRENCY_QUOTA:,}): request it in Service Quotas, quota code "
        f"{LAMBDA_CONCURRENCY_QUOTA_CODE}, before deploying (docs/CAPACITY.md)"
    )


def warnings(config: Mapping[str, Any], suppressions: Iterable[Suppression] = ()) -> list[str]:
    """What synth reports without failing. PP-EGRESS: a function whose environment holds a URL it
    has not declared egress to (core/host/egress_check.py). PP-CAPACITY: a method sized against a function without
    a planned p99, a method admitting more than its function serves (the excess is answered 503 +
    Retry-After), one client able to take the others' capacity; and a stack reserving more Lambda
    concurrency than an account's default quota allows."""
    suppressed = {(s.path, s.rule) for s in suppressions}
    resources = iter_resources(config)
    found = [
        f"[PP-CAPACITY] {c.method.address} (plugin '{c.method.plugin}'): {warning}"
        for c in method_capacities(resources)
        if (c.method.path, "PP-CAPACITY") not in suppressed
        for warning in capacity_warnings(c)
    ]
    quota = quota_warning(config, resources)
    egress = [w for w, path in egress_warnings(resources) if (path, "PP-EGRESS") not in suppressed]
    return [*found, *([quota] if quota else []), *egress]


# Rules over the whole stack rather than one resource at a time (documented with RULES).
STACK_RULES: dict[str, Callable[..., list[str]]] = {
    "PP-LAMBDA-LOG-GROUP": lambda_log_groups,
    "PP-S3-CMK": s3_buckets_encrypted,
    "PP-CAPACITY": capacity_violations,
}


def iter_resources(config: Mapping[str, Any]) -> list[Resource]:
    return [
        Resource(rtype, logical_id, body)
        for rtype, items in sorted((config.get("resource") or {}).items())
        for logical_id, body in sorted(items.items())
    ]


def check(config: Mapping[str, Any], policy: PolicyInput, suppressions: Iterable[Suppression] = ()) -> list[str]:
    """All violations in one synthesized stack, sorted; empty when it complies."""
    suppressed = {(s.path, s.rule) for s in suppressions}
    resources = iter_resources(config)
    violations: list[str] = []
    for resource in resources:
        for rule_id, fn in RULES.items():
            if (resource.path, rule_id) in suppressed:
                continue
            for message in fn(resource, policy):
                violations.append(
                    f"[{rule_id}] {resource.address} (plugin '{resource.plugin}', path {resource.path}): {message}"
                )
    violations.extend(
        v for v in lambda_log_groups(resources) if not any(p == "PP-LAMBDA-LOG-GROUP" for _, p in suppressed)
    )
    violations.extend(s3_buckets_encrypted(resources, suppressed))
    violations.extend(capacity_violations(resources, suppressed))
    return sorted(violations)
