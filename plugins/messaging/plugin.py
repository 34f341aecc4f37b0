"""Messaging plugin: the SQS FIFO audit trail and the SNS notifications topic.

Provides ``keys.AUDIT_QUEUE`` and ``keys.NOTIFICATIONS_TOPIC``. Both are encrypted with the
platform CMK and refuse anything but TLS. The queue is the ordered audit trail, kept for SQS's
maximum 14 days, with a FIFO dead-letter queue for messages its consumer (the audit plugin,
when enabled) cannot process; the consumer archives the trail for a year. The topic carries payment events
and CloudWatch alarms to the environment's notification addresses; a plugin subscribing through
the published topic (``subscribe_queue`` / ``subscribe_function``) receives the events alone, by
their ``event_type`` message attribute. Senders and consumers get access through the published
values (``queue.grant_send`` / ``grant_consume``, ``topic.grant_publish``, core/grants.py).
"""

from __future__ import annotations

import json
from typing import Any

from payments_platform.core import PluginContext, PluginDeclaration, aws, forget_in_state, hookimpl, keys

from .settings import MessagingSettings, subscription_id

# SQS's maximum. The queue is not the 12-month archive PCI DSS 10.5.1 asks for: a consumer
# outside this plugin (the audit plugin) moves messages to long-term storage within these 14 days.
AUDIT_RETENTION_SECONDS = 14 * 24 * 60 * 60
# How long a received message stays hidden from other consumers: SQS's default, stated so a
# consumer can check its function timeout against it.
AUDIT_VISIBILITY_TIMEOUT_SECONDS = 30
CLOUDWATCH = "cloudwatch.amazonaws.com"
# The message attribute the runtime publishes every payment event with (its `type`); CloudWatch
# alarms on the same topic carry none, so a subscription filtering on it never receives an alarm.
EVENT_TYPE_ATTRIBUTE = "event_type"
# The payment events published on the topic; each has a versioned JSON Schema in docs/events/.
PAYMENT_EVENT_TYPES = (
    "payment.transaction.received",
    "payment.transaction.processing",
    "payment.transaction.authorized",
    "payment.transaction.declined",
    "payment.transaction.failed",
)


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="messaging",
        description="SQS FIFO audit queue and SNS notifications topic, CMK-encrypted and TLS-only",
        provides=(keys.AUDIT_QUEUE, keys.NOTIFICATIONS_TOPIC),
        settings=MessagingSettings,
        emulated_services=("sns", "sqs"),
    )


@hookimpl
def payments_resources(ctx: PluginContext) -> None:
    settings: MessagingSettings = ctx.settings
    kms = ctx[keys.KMS_KEY]
    _audit_queue(ctx, settings, kms)
    _notifications_topic(ctx, settings, kms)
    _forget_the_separate_queue_policies(ctx)


# The queues' TLS-only policies used to be separate aws_sqs_queue_policy resources; they are now
# part of the queues. Destroying the old resources would run DeleteQueuePolicy -- possibly after
# the queue update that set the policy inline, leaving the queue without it. `removed` (Terraform
# >= 1.7) drops them from the state without destroying anything; harmless where they never existed.
SEPARATE_QUEUE_POLICIES = (
    "aws_sqs_queue_policy.messaging_audit_queue_policy_42AD3EA3",
    "aws_sqs_queue_policy.messaging_audit_dead_letter_queue_policy_6A3ADA76",
)


def _forget_the_separate_queue_policies(ctx: PluginContext) -> None:
    forget_in_state(ctx.scope, *SEPARATE_QUEUE_POLICIES)


def _audit_queue(ctx: PluginContext, settings: MessagingSettings, kms: keys.KmsKey) -> None:
    name = ctx.naming.fifo_queue("transaction-queue")
    dead_letter = _audit_dead_letter_queue(ctx, kms, source_name=name)
    queue = aws.sqs_queue.SqsQueue(
        ctx.scope,
        "audit_queue",
        name=name,
        fifo_queue=True,
        # Explicit MessageDeduplicationIds win; content-based deduplication covers senders without one.
        content_based_deduplication=True,
        deduplication_scope="messageGroup" if settings.high_throughput_fifo else "queue",
        fifo_throughput_limit="perMessageGroupId" if settings.high_throughput_fifo else "perQueue",
        message_retention_seconds=AUDIT_RETENTION_SECONDS,
        visibility_timeout_seconds=AUDIT_VISIBILITY_TIMEOUT_SECONDS,
        # PCI DSS 10.3.2: the audit trail is protected at rest under the platform CMK.
        kms_master_key_id=kms.arn,
        kms_data_key_reuse_period_seconds=settings.kms_data_key_reuse_period_seconds,
        policy=_tls_only_queue_policy(ctx, name),
        tags={"Name": name},
    )
    # A message a consumer cannot process (a poison message) moves aside instead of blocking its
    # message group until it expires. A resource of its own rather than the queue's redrive_policy:
    # SQS refuses a RedrivePolicy naming a queue that does not exist yet, so inline it would make
    # the queue wait for the dead-letter queue's ~25 s settle; apart, both queues are created at
    # once and only this policy waits for both -- beside the functions, which need the queue alone.
    aws.sqs_queue_redrive_policy.SqsQueueRedrivePolicy(
        ctx.scope,
        "audit_queue_redrive_policy",
        queue_url=queue.url,
        # Compact, as SQS returns it and the provider stores it: no whitespace-only diff on re-plan.
        redrive_policy=json.dumps(
            {"deadLetterTargetArn": dead_letter.arn, "maxReceiveCount": settings.audit_max_receive_count},
            separators=(",", ":"),
        ),
    )
    ctx.compliance.evidence(
        "10.2",
        queue,
        expect={"fifo_queue": True, "content_based_deduplication": True},
        note="every transaction request's audit event is sent to this FIFO queue, in order and de-duplicated",
    )
    ctx.compliance.evidence(
        "10.3",
        queue,
        attributes=("kms_master_key_id",),
        note="the audit trail is encrypted at rest under the platform CMK; only the transaction processor may send",
    )
    ctx.compliance.evidence(
        "4.2.1", queue, attributes=("policy",), note="the queue policy denies every SQS call made without TLS"
    )
    ctx[keys.AUDIT_QUEUE] = keys.Queue(
        name=queue.name,
        arn=queue.arn,
        url=queue.url,
        fifo=True,
        visibility_timeout_seconds=AUDIT_VISIBILITY_TIMEOUT_SECONDS,
        dead_letter_queue_arn=dead_letter.arn,
        kms_key_arn=kms.arn,
        region=ctx.aws.region,
    )
    # The literal name: dashboards and alarms read better with it and need no dependency on the queue.
    ctx.monitoring.queue("audit", queue_name=name)
    ctx.outputs.add("audit_queue_url", queue.url, description="URL of the SQS FIFO audit trail queue")


def _audit_dead_letter_queue(ctx: PluginContext, kms: keys.KmsKey, *, source_name: str) -> Any:
    """The audit queue's dead-letter queue: FIFO like its source (SQS requires it), kept as long,
    encrypted and TLS-only the same way. It depends on the key alone, so it is created beside the
    audit queue; the redrive policy joining them is applied once both exist."""
    name = ctx.naming.fifo_queue("transaction-queue-dlq")
    dead_letter = aws.sqs_queue.SqsQueue(
        ctx.scope,
        "audit_dead_letter_queue",
        name=name,
        fifo_queue=True,
        content_based_deduplication=True,  # every FIFO queue deduplicates (PP-SQS-FIFO-DEDUP)
        message_retention_seconds=AUDIT_RETENTION_SECONDS,
        kms_master_key_id=kms.arn,
        policy=_tls_only_queue_policy(ctx, name),
        tags={"Name": name},
    )
    # Anything here is an audit record nobody archived: the observability plugin alarms on it.
    ctx.monitoring.queue("audit-dlq", queue_name=name, dead_letter_for=source_name)
    ctx.outputs.add("audit_dead_letter_queue_url", dead_letter.url, description="Dead-letter queue of the audit queue")
    return dead_letter


def _notifications_topic(ctx: PluginContext, settings: MessagingSettings, kms: keys.KmsKey) -> None:
    name = ctx.naming.name("payment-notifications", kind="sns")
    topic = aws.sns_topic.SnsTopic(
        ctx.scope,
        "notifications_topic",
        name=name,
        display_name="Payment notifications",
        kms_master_key_id=kms.arn,
        tags={"Name": name},
    )
    account = ctx.aws.account_id
    # Replaces SNS's default topic policy; principals of this account still publish through
    # their IAM grants (same-account access needs no resource-policy Allow).
    ctx.compliance.evidence(
        "3.5.1",
        topic,
        attributes=("kms_master_key_id",),
        note="payment notifications are encrypted at rest under the platform CMK and carry no PAN or CVC",
    )
    topic_policy = aws.sns_topic_policy.SnsTopicPolicy(
        ctx.scope,
        "notifications_topic_policy",
        arn=topic.arn,
        policy=_policy(
            [
                _deny_insecure_transport("DenyInsecureTransport", ["sns:Publish", "sns:Subscribe"], topic.arn),
                {
                    "Sid": "AllowCloudWatchAlarmsToPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": CLOUDWATCH},
                    "Action": "sns:Publish",
                    "Resource": topic.arn,
                    # Confused-deputy guard: only this account's alarms may publish.
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": ctx.aws.arn("cloudwatch", "alarm:*")},
                    },
                },
            ]
        ),
    )
    ctx.compliance.evidence(
        "4.2.1", topic_policy, attributes=("policy",), note="the topic policy denies publish and subscribe without TLS"
    )
    # The topic is CMK-encrypted, so CloudWatch must be able to use the key to publish alarms.
    # In a key policy, Resource "*" means this key.
    ctx.policy.allow_key_use(
        "AllowCloudWatchAlarmsToUseKey",
        {
            "Effect": "Allow",
            "Principal": {"Service": CLOUDWATCH},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            # Confused-deputy guard, as on the topic policy: only this account's alarms.
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": ctx.aws.arn("cloudwatch", "alarm:*")},
            },
        },
    )
    for email in settings.notification_emails:
        subscription = aws.sns_topic_subscription.SnsTopicSubscription(
            ctx.scope, subscription_id(email), topic_arn=topic.arn, protocol="email", endpoint=email
        )
        ctx.compliance.evidence(
            "12.10.1",
            subscription,
            attributes=("protocol", "endpoint"),
            note="alarms published to the notifications topic reach this responder",
        )
    ctx[keys.NOTIFICATIONS_TOPIC] = keys.Topic(
        name=topic.name,
        arn=topic.arn,
        kms_key_arn=kms.arn,
        region=ctx.aws.region,
        physical_arn=ctx.aws.arn("sns", name),
        event_type_attribute=EVENT_TYPE_ATTRIBUTE,
        event_types=PAYMENT_EVENT_TYPES,
    )
    ctx.outputs.add("notifications_topic_arn", topic.arn, description="ARN of the SNS payment notifications topic")


def _tls_only_queue_policy(ctx: PluginContext, queue_name: str) -> str:
    """The queue's own policy, part of the queue: its ARN is built from the name, so the policy needs
    no second resource -- the AWS provider waits ~25 s after every SQS write for the attributes to
    settle (6 equal reads, 5 s apart), and a separate aws_sqs_queue_policy is one more such wait
    after the queue's, on the critical path of every deploy."""
    arn = ctx.aws.arn("sqs", queue_name)
    return _policy([_deny_insecure_transport("DenyInsecureTransport", ["sqs:*"], arn)])


def _deny_insecure_transport(sid: str, actions: list[str], resource: str) -> dict[str, Any]:
    """PCI DSS 4.2.1: cardholder-related messages only ever travel over TLS."""
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _policy(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
