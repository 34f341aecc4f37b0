"""A third-party plugin subscribing its own queue (under the platform key) to the payment events
through the published topic. Installed for a test by a ``*.dist-info`` with an entry point, as pip
installs one, into the merchant-webhooks distribution's venv (test_plugin_distribution.py): its
`local up` deploys both subscribers on one stack."""

from payments_platform.core import PluginDeclaration, aws, hookimpl, keys


@hookimpl
def payments_declare():
    return PluginDeclaration(
        name="webhook-queue",
        description="subscribes a queue to payment events",
        requires=(keys.NOTIFICATIONS_TOPIC,),
        emulated_services=("sqs", "sns"),
    )


@hookimpl
def payments_wiring(ctx):
    topic, kms = ctx[keys.NOTIFICATIONS_TOPIC], ctx[keys.KMS_KEY]
    name = ctx.naming.name("webhook-events")
    queue = aws.sqs_queue.SqsQueue(ctx.scope, "webhook_queue", name=name, kms_master_key_id=kms.arn)
    events = keys.Queue(name=name, arn=queue.arn, url=queue.url, kms_key_arn=kms.arn, region=ctx.aws.region)
    topic.subscribe_queue(ctx, events, sid="WebhookEvents", event_types=["payment.transaction.received"])
    ctx.outputs.add("webhook_queue_url", queue.url, description="the subscriber's queue")
