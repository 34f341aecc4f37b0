"""A third-party plugin like the merchant-webhooks author's, for the gate's tests: its own SQS-fed
function (with a dead-letter queue) subscribed to the payment events, a secret under the platform
key rotated with the merchant (a reviewed finding), and the reviewed baseline its distribution ships."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from payments_platform.core import PluginDeclaration, aws, hookimpl, keys, platform_function

SECRET_ENTRY = """
[[finding]]
check = "CKV2_AWS_57"
resources = ["{secret}"]
reason = "Rotated with the merchant: the signing secret changes when the merchant's endpoint accepts the new one, by the merchant-onboarding runbook."
requirement = "Merchant webhook agreement: coordinated secret rotation; PCI DSS 3.6.1"
"""


class MerchantWebhooks:
    def __init__(self, baseline: Path | None = None) -> None:
        self.baseline = baseline

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="merchant-webhooks",
            description="posts signed payment events to the merchant",
            requires=(keys.NETWORK, keys.RUNTIME_PACKAGE, keys.NOTIFICATIONS_TOPIC),
            emulated_services=("secretsmanager", "sqs"),
            checkov_baseline=str(self.baseline) if self.baseline else "",
        )

    @hookimpl
    def payments_wiring(self, ctx: Any) -> None:
        kms, topic = ctx[keys.KMS_KEY], ctx[keys.NOTIFICATIONS_TOPIC]
        dlq = aws.sqs_queue.SqsQueue(
            ctx.scope, "webhook_dlq", name=ctx.naming.name("webhook-dlq"), kms_master_key_id=kms.arn
        )
        name = ctx.naming.name("webhook-events")
        queue = aws.sqs_queue.SqsQueue(
            ctx.scope,
            "webhook_queue",
            name=name,
            kms_master_key_id=kms.arn,
            visibility_timeout_seconds=60,
            redrive_policy=json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 5}),
        )
        events = keys.Queue(name=name, arn=queue.arn, url=queue.url, kms_key_arn=kms.arn, region=ctx.aws.region)
        topic.subscribe_queue(ctx, events, sid="MerchantEvents")
        aws.secretsmanager_secret.SecretsmanagerSecret(
            ctx.scope, "signing_secret", name=ctx.naming.name("webhook-signing"), kms_key_id=kms.arn
        )
        sender = platform_function(
            ctx,
            "sender",
            key="webhook-sender",
            description="signs and posts payment events to the merchant",
            role_description="webhook sender: reads its queue",
            package=ctx[keys.RUNTIME_PACKAGE],
            handler="payments_runtime.status.handler",
            environment={"LOG_LEVEL": "INFO"},
            reserved_concurrency=2,
            log_retention_days=30,
        )
        events.grant_consume(ctx.roles, sender, sid="ConsumeEvents")
        aws.lambda_event_source_mapping.LambdaEventSourceMapping(
            ctx.scope, "sender_events", event_source_arn=queue.arn, function_name=sender.arn, batch_size=10
        )
