"""Subscriptions to a published topic, as grants: the topic knows what a subscriber needs.

``ctx[keys.NOTIFICATIONS_TOPIC].subscribe_queue(ctx, queue, sid=...)`` builds, in the subscribing
plugin's scope, everything SNS delivery needs -- the subscription with its filter policy, the
queue's policy letting this topic (and only it, ``aws:SourceArn``) send, and the platform key's
use by SNS for an encrypted queue -- so an author writes no raw statement. A function subscribes
with ``subscribe_function`` (the subscription and the ``lambda:InvokeFunction`` permission for
this topic alone).

The filter policy is what keeps a subscriber to the events apart from anything else the topic
carries: every event is published with the topic's ``event_type_attribute`` (CloudWatch alarms
publish no message attributes), and every subscription made here matches on it -- the listed
types, or any type -- so alarms never reach it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from payments_platform.core.errors import RegistrationError

if TYPE_CHECKING:
    from payments_platform.core.context import PluginContext
    from payments_platform.core.keys import Function, Queue, Topic

SNS = "sns.amazonaws.com"
# What SNS does with the key of an encrypted queue it delivers to (SQS server-side encryption with
# a customer-managed key): it generates the data key for the message it sends and decrypts cached ones.
SNS_TO_SQS_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
_SID = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")


def subscribe_queue(
    ctx: PluginContext,
    topic: Topic,
    queue: Queue,
    *,
    sid: str,
    event_types: Sequence[str] = (),
    raw_message_delivery: bool = True,
) -> Any:
    """Subscribe ``queue`` to ``topic``'s events (of ``event_types``, or all); returns the
    ``aws_sns_topic_subscription``. The queue's policy is written here (TLS only, and SendMessage
    from this topic alone): the queue must carry no policy of its own, nor be subscribed twice."""
    types = _checked(ctx, topic, sid, event_types)
    if queue.fifo:
        raise RegistrationError(
            f"plugin '{ctx.name}' subscription '{sid}': queue {queue.name!r} is FIFO, and only a FIFO topic "
            "delivers to one; subscribe a standard queue"
        )
    _refuse_a_second_queue_policy(ctx, queue, sid)
    base = _construct_id(sid)
    from payments_platform.core.cdktf_adapter import aws

    aws.sqs_queue_policy.SqsQueuePolicy(
        ctx.scope, f"{base}_queue_policy", queue_url=queue.url, policy=_queue_policy(topic, queue, sid)
    )
    _allow_sns_to_use_the_queue_key(ctx, topic, queue, sid)
    return aws.sns_topic_subscription.SnsTopicSubscription(
        ctx.scope,
        base,
        topic_arn=topic.arn,
        protocol="sqs",
        endpoint=queue.arn,
        raw_message_delivery=raw_message_delivery,
        **_filter(topic, types),
    )


def subscribe_function(
    ctx: PluginContext, topic: Topic, function: Function, *, sid: str, event_types: Sequence[str] = ()
) -> Any:
    """Subscribe ``function`` to ``topic``'s events (of ``event_types``, or all); returns the
    ``aws_sns_topic_subscription``. SNS may invoke the function for this topic alone."""
    types = _checked(ctx, topic, sid, event_types)
    base = _construct_id(sid)
    from payments_platform.core.cdktf_adapter import aws

    aws.lambda_permission.LambdaPermission(
        ctx.scope,
        f"{base}_permission",
        statement_id=sid,
        action="lambda:InvokeFunction",
        function_name=function.name,
        principal=SNS,
        source_arn=topic.arn,
    )
    return aws.sns_topic_subscription.SnsTopicSubscription(
        ctx.scope, base, topic_arn=topic.arn, protocol="lambda", endpoint=function.arn, **_filter(topic, types)
    )


def _refuse_a_second_queue_policy(ctx: PluginContext, queue: Queue, sid: str) -> None:
    """The subscription writes the queue's whole policy: a policy of the queue's own, or another
    subscription's, would make two resources fight over one attribute (a diff on every plan)."""
    from payments_platform.core.cdktf_adapter import terraform_reference, terraform_resources

    def reference(token: str) -> str:
        return terraform_reference(ctx.scope, token)

    where = f"plugin '{ctx.name}' subscription '{sid}'"
    arn, url = reference(queue.arn), reference(queue.url)
    for resource in terraform_resources(ctx.scope, "aws_sqs_queue"):
        if reference(resource.arn) == arn and resource.policy_input is not None:
            raise RegistrationError(
                f"{where}: queue {queue.name!r} ({resource.node.path}) has a policy of its own; the subscription "
                "writes the queue's policy (TLS only, and SNS from this topic), so leave the queue's unset"
            )
    for policy in terraform_resources(ctx.scope, "aws_sqs_queue_policy"):
        if reference(policy.queue_url_input) == url:
            raise RegistrationError(
                f"{where}: queue {queue.name!r} already has a queue policy ({policy.node.path}): subscribe a "
                "queue to one topic once"
            )


def _checked(ctx: PluginContext, topic: Topic, sid: str, event_types: Sequence[str]) -> tuple[str, ...]:
    where = f"plugin '{ctx.name}' subscription '{sid}'"
    if not isinstance(sid, str) or not _SID.match(sid):
        raise RegistrationError(f"{where}: the sid must be letters and digits, starting with a letter")
    if isinstance(event_types, str):
        raise RegistrationError(f"{where}: event_types must be a sequence of types, not the string {event_types!r}")
    types = tuple(event_types)
    if not topic.event_type_attribute:
        raise RegistrationError(
            f"{where}: topic {topic.name!r} publishes no event_type_attribute, so a subscription could not tell "
            "its events from the rest of what it carries (alarms); its provider must publish one"
        )
    if any(not isinstance(t, str) or not t for t in types):
        raise RegistrationError(f"{where}: every event type must be a non-empty string, got {types!r}")
    unknown = sorted(set(types) - set(topic.event_types)) if topic.event_types else []
    if unknown:
        raise RegistrationError(
            f"{where}: {', '.join(repr(t) for t in unknown)} is not an event type topic {topic.name!r} carries "
            f"(known: {', '.join(topic.event_types)})"
        )
    if len(set(types)) != len(types):
        raise RegistrationError(f"{where}: event_types lists a type twice")
    return types


def _filter(topic: Topic, types: tuple[str, ...]) -> dict[str, Any]:
    # "exists": any event, and nothing published without the attribute (a CloudWatch alarm).
    match: list[Any] = sorted(types) if types else [{"exists": True}]
    return {
        "filter_policy": json.dumps({topic.event_type_attribute: match}),
        "filter_policy_scope": "MessageAttributes",
    }


def _queue_policy(topic: Topic, queue: Queue, sid: str) -> str:
    statements = [
        {
            # PCI DSS 4.2.1: as the platform's own queues, only over TLS.
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": queue.arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": SNS},
            "Action": "sqs:SendMessage",
            "Resource": queue.arn,
            # Confused-deputy guard: this topic, no other.
            "Condition": {"ArnEquals": {"aws:SourceArn": topic.arn}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _allow_sns_to_use_the_queue_key(ctx: PluginContext, topic: Topic, queue: Queue, sid: str) -> None:
    """SNS encrypts what it delivers to an encrypted queue with the queue's key: on the platform
    CMK that is a key-policy statement, conditioned on this topic. It names the topic by the ARN
    built from its literal name (``physical_arn``): the topic itself is encrypted under the key,
    so naming the resource would make key and topic wait for each other (a Terraform cycle)."""
    if not queue.kms_key_arn:
        return
    from payments_platform.core.keys import KMS_KEY

    where = f"plugin '{ctx.name}' subscription '{sid}'"
    if queue.kms_key_arn != ctx[KMS_KEY].arn:
        raise RegistrationError(
            f"{where}: queue {queue.name!r} is encrypted under a key other than the platform CMK, whose policy "
            "the platform cannot extend; encrypt it under ctx[keys.KMS_KEY]"
        )
    if not topic.physical_arn:
        raise RegistrationError(
            f"{where}: topic {topic.name!r} publishes no physical_arn, the only way to name it in the key's "
            "policy without a dependency cycle; its provider must publish one"
        )
    ctx.policy.allow_key_use(
        f"{sid}SnsDelivery",
        {
            "Effect": "Allow",
            "Principal": {"Service": SNS},
            "Action": list(SNS_TO_SQS_KEY_ACTIONS),
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ctx.aws.account_id},
                "ArnEquals": {"aws:SourceArn": topic.physical_arn},
            },
        },
    )


def _construct_id(sid: str) -> str:
    return "subscription_" + re.sub(r"(?<!^)(?=[A-Z])", "_", sid).lower()
