"""The merchant_hooks plugin: the platform's payment events, POSTed signed to a merchant.

- declare: settings, what it requires, its own reviewed checkov findings (checkov-baseline.toml)
- resources: the merchant's signing secret (platform CMK), the events queue and its dead-letter
  queue, the sender function from this distribution's own code (function_package) with internet
  egress declared, the queue feeding it, the typed subscription to the payment events
- wiring: the function may consume its queue and read its secret
"""

from __future__ import annotations

from pathlib import Path

from payments_platform.core import (
    Egress,
    PluginContext,
    PluginDeclaration,
    aws,
    function_package,
    hookimpl,
    keys,
    platform_function,
)

from .settings import MerchantHooksSettings

KEY = "merchant-hooks"


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="merchant_hooks",
        description="Signed webhooks of the payment events to a merchant",
        requires=(keys.NETWORK, keys.RUNTIME_PACKAGE, keys.NOTIFICATIONS_TOPIC),
        settings=MerchantHooksSettings,
        emulated_services=("lambda", "logs", "secretsmanager", "sqs"),
        checkov_baseline=str(Path(__file__).with_name("checkov-baseline.toml")),
        requires_api=">=1.2,<2",
    )


@hookimpl
def payments_resources(ctx: PluginContext) -> None:
    settings: MerchantHooksSettings = ctx.settings
    kms = ctx[keys.KMS_KEY]
    # The merchant's shared secret: the operator puts the value the merchant agreed to.
    secret = aws.secretsmanager_secret.SecretsmanagerSecret(
        ctx.scope,
        "signing_secret",
        name=ctx.naming.name("merchant-hooks-signing"),
        description="HMAC key the merchant verifies webhook signatures with",
        kms_key_id=kms.arn,
        recovery_window_in_days=0,  # the environment stays destroyable
    )
    dead_letters = aws.sqs_queue.SqsQueue(
        ctx.scope,
        "dead_letters",
        name=ctx.naming.name("merchant-hooks-dlq", kind="sqs"),
        message_retention_seconds=1209600,
        kms_master_key_id=kms.arn,
    )
    queue_name = ctx.naming.name("merchant-hooks-events", kind="sqs")
    queue = aws.sqs_queue.SqsQueue(
        ctx.scope,
        "events",
        name=queue_name,
        visibility_timeout_seconds=settings.visibility_timeout_seconds,
        kms_master_key_id=kms.arn,
        redrive_policy=f'{{"deadLetterTargetArn":"{dead_letters.arn}","maxReceiveCount":{settings.max_receive_count}}}',
    )
    events = keys.Queue(
        name=queue_name,
        arn=queue.arn,
        url=queue.url,
        visibility_timeout_seconds=settings.visibility_timeout_seconds,
        dead_letter_queue_arn=dead_letters.arn,
        kms_key_arn=kms.arn,
        region=ctx.aws.region,
    )
    package = function_package(ctx, "sender_package", source="payments_merchant_hooks.function", runtime_support=True)
    egress = Egress(ports=(settings.merchant_port,), hosts=(settings.merchant_host,))
    sender = platform_function(
        ctx,
        "sender",
        key=KEY,
        description="POSTs each payment event to the merchant, HMAC-signed",
        role_description="Merchant webhooks: consumes its queue, reads its signing secret",
        package=package,
        handler="payments_merchant_hooks.function.handler.handle",
        environment={
            "MERCHANT_URL": settings.merchant_url,
            "SIGNING_SECRET_ARN": secret.arn,
            "LOG_LEVEL": "INFO",
            "ENVIRONMENT": ctx.environment.name,
        },
        reserved_concurrency=1,
        log_retention_days=30,
        timeout_seconds=15,
        egress=egress if settings.declare_egress else None,
    )
    aws.lambda_event_source_mapping.LambdaEventSourceMapping(
        ctx.scope, "events_to_sender", event_source_arn=queue.arn, function_name=sender.arn, batch_size=1
    )
    ctx.monitoring.queue(KEY, queue_name=queue_name)
    ctx[keys.NOTIFICATIONS_TOPIC].subscribe_queue(
        ctx, events, sid="MerchantHooksEvents", event_types=["payment.transaction.received"]
    )
    ctx.outputs.add("merchant_hooks_secret_arn", secret.arn, description="The merchant's webhook signing secret")
    ctx.stash["wiring"] = (sender, events, secret.arn)


@hookimpl
def payments_wiring(ctx: PluginContext) -> None:
    sender, events, secret_arn = ctx.stash.pop("wiring")
    events.grant_consume(ctx.roles, sender, sid="ConsumeEvents")
    ctx.roles.grant(sender, sid="ReadSigningSecret", actions=["secretsmanager:GetSecretValue"], resources=[secret_arn])
    ctx[keys.KMS_KEY].grant_use(
        ctx.roles, sender, sid="ReadSigningSecretKms", actions=["kms:Decrypt"], service="secretsmanager"
    )
