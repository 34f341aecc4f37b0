"""A third-party plugin providing the table, queue and topic instead of ours: the api plugin's
functions get the same least-privilege statements, on that plugin's resources and key."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import STUB_VALUES, STUBS

from payments_platform.core import keys
from payments_platform.core.testing import SynthesizedStack, stub_provider, synth

FUNCTIONS = ("transaction-processor", "status-checker", "transaction-reconciler")
NETWORK_ONLY = stub_provider("network-stub", [keys.NETWORK])


@pytest.fixture(scope="module")
def ours() -> SynthesizedStack:
    return synth(["api", "storage", "messaging"], extra_plugins={"network-stub": NETWORK_ONLY})


@pytest.fixture(scope="module")
def theirs() -> SynthesizedStack:
    return synth(["api"], extra_plugins={"stubs": STUBS})


def platform_key_arn(stack: SynthesizedStack) -> str:
    (logical_id,) = stack.resources("aws_kms_key")
    return "${aws_kms_key." + logical_id + ".arn}"


def ours_names(stack: SynthesizedStack) -> dict[str, str]:
    def arn_of(resource_type: str, path_suffix: str) -> str:
        for logical_id, body in stack.resources(resource_type).items():
            if body["//"]["metadata"]["path"].endswith(path_suffix):
                return "${" + f"{resource_type}.{logical_id}.arn" + "}"
        raise AssertionError(f"no {resource_type} at */{path_suffix}")

    return {
        arn_of("aws_dynamodb_table", "/transactions_table"): "TABLE",
        arn_of("aws_sqs_queue", "/audit_queue"): "QUEUE",
        arn_of("aws_sns_topic", "/notifications_topic"): "TOPIC",
        platform_key_arn(stack): "KEY",
    }


def theirs_names() -> dict[str, str]:
    table, queue, topic = (
        STUB_VALUES[k] for k in (keys.TRANSACTIONS_TABLE, keys.AUDIT_QUEUE, keys.NOTIFICATIONS_TOPIC)
    )
    return {table.arn: "TABLE", queue.arn: "QUEUE", topic.arn: "TOPIC", table.kms_key_arn: "KEY"}


def grants_on_provided_resources(stack: SynthesizedStack, function: str, names: dict[str, str]) -> dict[str, Any]:
    """The role's statements on the table, queue, topic or their key, their ARNs named."""
    found = {}
    for statement in stack.iam_statements(function):
        resource = statement["Resource"]
        if (
            isinstance(resource, str)
            and resource in names
            and (names[resource] != "KEY" or statement["Sid"].endswith("Kms"))
        ):
            found[statement["Sid"]] = {**statement, "Resource": names[resource]}
    return found


@pytest.mark.parametrize("function", FUNCTIONS)
def test_third_party_table_queue_and_topic_get_the_same_grants_as_ours(ours, theirs, function):
    expected = grants_on_provided_resources(ours, function, ours_names(ours))
    assert expected, f"{function} has no grants on the provided resources"
    assert grants_on_provided_resources(theirs, function, theirs_names()) == expected


def test_third_party_table_grant_uses_its_key_not_the_platform_key(theirs):
    statements = {s["Sid"]: s for s in theirs.iam_statements("status-checker")}
    assert statements["TransactionsTableReadKms"]["Resource"] == STUB_VALUES[keys.TRANSACTIONS_TABLE].kms_key_arn
    assert statements["TransactionsTableReadKms"]["Resource"] != platform_key_arn(theirs)
