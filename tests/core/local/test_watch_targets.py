"""What `--watch` applies for an infrastructure edit (watch.changed_resources): the changed resources
and everything referring to them, or the whole stack when more than resources changed."""

from __future__ import annotations

import copy
from typing import Any

from payments_platform.core.local.watch import MAX_TARGETS, changed_resources


def stack() -> dict[str, Any]:
    return {
        "//": {"metadata": {"stackName": "payments-local"}},
        "provider": {"aws": [{"region": "us-east-1"}]},
        "resource": {
            "aws_sqs_queue": {"audit": {"name": "audit.fifo"}},
            "aws_lambda_event_source_mapping": {"archiver": {"event_source_arn": "${aws_sqs_queue.audit.arn}"}},
            "aws_lambda_permission": {"archiver": {"source_arn": "${aws_lambda_event_source_mapping.archiver.id}"}},
            "aws_api_gateway_method_settings": {"all": {"settings": {"throttling_burst_limit": 8}}},
        },
    }


def test_a_one_resource_edit_targets_that_resource_alone() -> None:
    old, new = stack(), stack()
    new["resource"]["aws_api_gateway_method_settings"]["all"]["settings"]["throttling_burst_limit"] = 77
    assert changed_resources(old, new) == ["aws_api_gateway_method_settings.all"]


def test_resources_referring_to_a_changed_one_are_targeted_too_transitively() -> None:
    old, new = stack(), stack()
    new["resource"]["aws_sqs_queue"]["audit"]["visibility_timeout_seconds"] = 60
    assert changed_resources(old, new) == [
        "aws_lambda_event_source_mapping.archiver",
        "aws_lambda_permission.archiver",
        "aws_sqs_queue.audit",
    ]


def test_added_and_removed_resources_are_targeted() -> None:
    old, new = stack(), stack()
    del new["resource"]["aws_lambda_permission"]
    new["resource"]["aws_sqs_queue"]["dlq"] = {"name": "dlq.fifo"}
    assert changed_resources(old, new) == ["aws_lambda_permission.archiver", "aws_sqs_queue.dlq"]


def test_anything_but_resources_changed_applies_everything() -> None:
    old, new = stack(), stack()
    new["provider"]["aws"][0]["region"] = "eu-west-1"
    new["resource"]["aws_sqs_queue"]["audit"]["name"] = "renamed.fifo"
    assert changed_resources(old, new) is None
    moved = copy.deepcopy(old)
    moved["moved"] = [{"from": "aws_sqs_queue.old", "to": "aws_sqs_queue.audit"}]
    assert changed_resources(old, moved) is None


def test_no_change_or_a_large_one_applies_everything() -> None:
    assert changed_resources(stack(), stack()) is None
    many = stack()
    many["resource"]["aws_sqs_queue"].update({f"q{i}": {"name": f"q{i}"} for i in range(MAX_TARGETS + 1)})
    assert changed_resources(stack(), many) is None
