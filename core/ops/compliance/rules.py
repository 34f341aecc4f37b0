"""Exemptions that hold by construction: rules read from the synthesized stack, not address lists.

A checkov finding a rule excuses is excused because of how the resource is built -- wherever it
comes from, a third-party plugin's resource included -- and stops being excused the moment the
construction changes (the subscription removed, the dead-letter queue dropped). Each rule names
the check, the reason and the requirement, as a reviewed baseline entry does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_REFERENCE = re.compile(r"\$\{([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)\.[a-z_]+\}")

Resources = Mapping[str, Mapping[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class ExemptionRule:
    name: str
    check: str
    reason: str
    requirement: str
    # the addresses (type.name) of the stack's resources the rule excuses
    applies_to: Callable[[Resources], set[str]]
    pci: tuple[str, ...] = ()


def _references(value: Any) -> set[str]:
    return {f"{t}.{n}" for t, n in _REFERENCE.findall(json.dumps(value))}


def _blocks(resources: Resources, resource_type: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, body in (resources.get(resource_type) or {}).items():
        yield f"{resource_type}.{name}", body


# PCI DSS 10.5.1: audit log history is retained for at least 12 months.
ARCHIVE_DAYS = 365


def archived_log_groups(resources: Resources) -> set[str]:
    """Log groups whose every event (empty filter pattern) a subscription filter sends to a
    Firehose delivery stream writing to an S3 bucket that keeps objects 12 months at least -- the
    audit plugin's archive -- and which keep the specification's 30 days themselves."""
    archives = _year_long_buckets(resources)
    archiving_streams = {
        address
        for address, body in _blocks(resources, "aws_kinesis_firehose_delivery_stream")
        if _references(body.get("extended_s3_configuration")) & archives
    }
    groups = {address: body for address, body in _blocks(resources, "aws_cloudwatch_log_group")}
    archived: set[str] = set()
    for _, subscription in _blocks(resources, "aws_cloudwatch_log_subscription_filter"):
        if subscription.get("filter_pattern", None) != "" or not (
            _references(subscription.get("destination_arn")) & archiving_streams
        ):
            continue
        for address in _references(subscription.get("log_group_name")) & set(groups):
            if int(groups[address].get("retention_in_days") or 0) >= 30:
                archived.add(address)
    return archived


def _year_long_buckets(resources: Resources) -> set[str]:
    """Buckets no lifecycle rule expires (current or noncurrent objects) before ``ARCHIVE_DAYS``."""
    buckets = {address for address, _ in _blocks(resources, "aws_s3_bucket")}
    for _, lifecycle in _blocks(resources, "aws_s3_bucket_lifecycle_configuration"):
        days = [
            int(expiry.get(field) or ARCHIVE_DAYS)
            for rule in lifecycle.get("rule") or ()
            if rule.get("status") == "Enabled"
            for key, field in (("expiration", "days"), ("noncurrent_version_expiration", "noncurrent_days"))
            for expiry in rule.get(key) or ()
        ]
        if any(d < ARCHIVE_DAYS for d in days):
            buckets -= _references(lifecycle.get("bucket"))
    return buckets


def sqs_fed_functions(resources: Resources) -> set[str]:
    """Functions invoked only through an SQS event source mapping from a queue that has a
    dead-letter queue, and by no SNS subscription (SNS would invoke them asynchronously)."""
    queues_with_dead_letter = {
        address
        for address, body in _blocks(resources, "aws_sqs_queue")
        if "deadLetterTargetArn" in str(body.get("redrive_policy"))
    }
    for _, redrive in _blocks(resources, "aws_sqs_queue_redrive_policy"):
        if "deadLetterTargetArn" in str(redrive.get("redrive_policy")):
            queues_with_dead_letter |= {
                r for r in _references(redrive.get("queue_url")) if r.startswith("aws_sqs_queue.")
            }
    fed: set[str] = set()
    for _, mapping in _blocks(resources, "aws_lambda_event_source_mapping"):
        if _references(mapping.get("event_source_arn")) & queues_with_dead_letter:
            fed |= {r for r in _references(mapping.get("function_name")) if r.startswith("aws_lambda_function.")}
    invoked_by_sns = set().union(
        *(_references(body.get("endpoint")) for _, body in _blocks(resources, "aws_sns_topic_subscription"))
    )
    return fed - invoked_by_sns


RULES: tuple[ExemptionRule, ...] = (
    ExemptionRule(
        name="archived-log-group",
        check="CKV_AWS_338",
        reason="Archived by construction: every event of the log group is subscribed to a Firehose stream "
        "writing to the audit archive, which keeps the 12 months PCI DSS 10.5.1 asks for; the group itself "
        "keeps the specification's 30 days.",
        requirement="SPEC.md: 'CloudWatch Log Groups must have 30-day retention'; PCI DSS 10.5.1",
        applies_to=archived_log_groups,
        pci=("10.5.1",),
    ),
    ExemptionRule(
        name="sqs-fed-function",
        check="CKV_AWS_116",
        reason="Does not apply by construction: the function is invoked synchronously by an SQS event source "
        "mapping; a Lambda DLQ only receives failed asynchronous invocations, and a message the function "
        "fails on goes back to its queue, then to that queue's own dead-letter queue.",
        requirement="AWS Lambda: asynchronous invocation only (a DLQ on an event-source-mapped function is never used)",
        applies_to=sqs_fed_functions,
    ),
)


def excused(config: Mapping[str, Any], rules: tuple[ExemptionRule, ...] = RULES) -> dict[ExemptionRule, set[str]]:
    """Each rule → the addresses of ``config``'s resources it excuses (empty sets left out)."""
    resources = config.get("resource") or {}
    found = {rule: rule.applies_to(resources) for rule in rules}
    return {rule: addresses for rule, addresses in found.items() if addresses}
