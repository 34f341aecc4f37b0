"""Audit plugin: the 12-month archive of the audit trail (PCI DSS 10.5.1).

Requires the audit queue, the network and the runtime package; provides nothing.

    resources  the archive bucket (bucket.py); the audit queue's consumer function and its
               event source mapping (consumer.py), registered for monitoring as it is built
    wiring     grant the consumer exactly what it calls
    finalize   CloudWatch Logs subscription → Firehose → bucket for every log group of the
               stack, registered or not (``ctx.monitoring.log_groups``; log_delivery.py)

Settings: settings.py. The consumer's code: runtime/audit_archive.py.
"""

from __future__ import annotations

from payments_platform.core import PluginContext, PluginDeclaration, hookimpl, keys

from .bucket import create_archive_bucket
from .consumer import create_consumer, grant_consumer_access
from .log_delivery import archive_log_groups, create_delivery_roles
from .settings import AuditSettings


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="audit",
        description="12-month audit archive: S3 (CMK, versioned, lifecycle) fed by the audit queue and CloudWatch Logs",
        requires=(keys.AUDIT_QUEUE, keys.NETWORK, keys.RUNTIME_PACKAGE),
        settings=AuditSettings,
        emulated_services=("firehose", "lambda", "logs", "s3"),
    )


@hookimpl
def payments_resources(ctx: PluginContext) -> None:
    settings: AuditSettings = ctx.settings
    delivery_roles = create_delivery_roles(ctx)
    bucket = create_archive_bucket(ctx, settings, delivery_role_arn=delivery_roles.delivery.arn)
    consumer = create_consumer(ctx, settings, bucket)
    ctx.outputs.add(
        "audit_archive_bucket_name", bucket.name, description="S3 bucket holding the 12-month audit archive"
    )
    ctx.stash["bucket"] = bucket
    ctx.stash["consumer"] = consumer
    ctx.stash["delivery_roles"] = delivery_roles


@hookimpl
def payments_wiring(ctx: PluginContext) -> None:
    grant_consumer_access(ctx, ctx.stash.pop("consumer"), ctx.stash["bucket"])


@hookimpl
def payments_finalize(ctx: PluginContext) -> None:
    # In finalize: every plugin has made its log groups by now.
    archive_log_groups(
        ctx, ctx.settings, ctx.stash.pop("bucket"), ctx.stash.pop("delivery_roles"), ctx.monitoring.log_groups
    )
