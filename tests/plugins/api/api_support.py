"""Shared settings and query helpers for the api plugin tests (imported by conftest and tests)."""

from __future__ import annotations

import json
from typing import Any

from payments_platform.core import keys
from payments_platform.core.testing import SynthesizedStack, stub_provider, stub_values, synth

REQUIRED = [keys.NETWORK, keys.TRANSACTIONS_TABLE, keys.AUDIT_QUEUE, keys.NOTIFICATIONS_TOPIC]
# One instance for the session: the synth cache keys in-process plugins by identity.
STUBS = stub_provider("stubs", REQUIRED)
STUB_VALUES = stub_values()

PLANNED_SERVICE_TIME = {
    "transaction-processor": {"p99_ms": 250, "source": "test: BENCHMARKS.md"},
    "status-checker": {"p99_ms": 100, "source": "test: BENCHMARKS.md"},
}
API_KEY_SETTINGS = {
    "clients": ["checkout-web", "checkout-mobile"],
    "reserved_concurrency": 7,
    "service_time": PLANNED_SERVICE_TIME,
    "manage_account_cloudwatch_role": True,
}
IAM_SETTINGS = {"auth": "iam", "memory_mb": 1024, "reserved_concurrency": 3}


def synth_api(settings: dict[str, Any], *, cache: bool = True) -> SynthesizedStack:
    return synth(["api"], extra_plugins={"stubs": STUBS}, settings={"api": settings}, cache=cache)


def strip(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "//"}


def logical_id(stack: SynthesizedStack, resource_type: str, path_suffix: str) -> str:
    """The logical id of the resource whose construct path ends with ``path_suffix``."""
    for lid, body in stack.resources(resource_type).items():
        if body["//"]["metadata"]["path"].endswith(path_suffix):
            return lid
    raise AssertionError(f"no {resource_type} at */{path_suffix}")


def ref(stack: SynthesizedStack, resource_type: str, path_suffix: str, attribute: str) -> str:
    return "${" + f"{resource_type}.{logical_id(stack, resource_type, path_suffix)}.{attribute}" + "}"


def all_policy_statements(stack: SynthesizedStack) -> list[dict[str, Any]]:
    return [
        statement
        for body in stack.resources("aws_iam_role_policy").values()
        for statement in json.loads(body["policy"])["Statement"]
    ]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found
