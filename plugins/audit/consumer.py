"""The audit queue's consumer: a Lambda function fed by an SQS event source mapping with
partial batch responses.

A message the handler keeps reporting as failed moves to the audit queue's dead-letter queue
after the queue's maxReceiveCount: the queue's owner (the messaging plugin) creates both and
the redrive policy joining them, and alarms on the dead-letter queue through ``ctx.monitoring``. This
plugin refuses a queue without one: a poison message would otherwise block its FIFO message
group -- and with it the audit trail of one client -- until it expires.
"""

from __future__ import annotations

from payments_platform.core import ConfigError, PluginContext, aws, keys, platform_function

from .bucket import ArchiveBucket
from .settings import AuditSettings

CONSUMER = "audit-archiver"
HANDLER = "payments_runtime.audit_archive.handler"
ARCHIVE_PREFIX = "audit/"  # runtime/audit_archive.py writes under it


def create_consumer(ctx: PluginContext, settings: AuditSettings, bucket: ArchiveBucket) -> keys.Function:
    """The consumer function (registered for monitoring and the audit trail with it, core/builders.py)
    and its event source mapping on the audit queue."""
    kms = ctx[keys.KMS_KEY]
    queue = ctx[keys.AUDIT_QUEUE]
    if settings.consumer_timeout_seconds > queue.visibility_timeout_seconds:
        raise ConfigError(
            f"environment '{ctx.environment.name}', plugin 'audit', setting 'consumer_timeout_seconds': "
            f"{settings.consumer_timeout_seconds} s exceeds the audit queue's visibility timeout "
            f"({queue.visibility_timeout_seconds} s); Lambda would refuse the event source mapping"
        )

    if not queue.dead_letter_queue_arn:
        raise ConfigError(
            f"environment '{ctx.environment.name}', plugin 'audit': the audit queue ({keys.AUDIT_QUEUE.name}) "
            f"has no dead-letter queue; a poison message would block its message group until it expires"
        )

    # S3 through the VPC's gateway endpoint; the Lambda service itself polls the queue.
    consumer = platform_function(
        ctx,
        "archiver",
        key=CONSUMER,
        description="Archives the SQS FIFO audit trail to the audit archive bucket (PCI DSS 10.5.1)",
        role_description="Audit archiver: reads the audit queue, writes the archive bucket",
        package=ctx[keys.RUNTIME_PACKAGE],
        handler=HANDLER,
        environment={
            "ARCHIVE_BUCKET_NAME": bucket.name,
            "ARCHIVE_KMS_KEY_ARN": kms.arn,
            "LOG_LEVEL": "INFO",
            "ENVIRONMENT": ctx.environment.name,
        },
        memory_mb=settings.consumer_memory_mb,
        timeout_seconds=settings.consumer_timeout_seconds,
        reserved_concurrency=settings.consumer_reserved_concurrency,
        log_retention_days=settings.consumer_log_retention_days,
    )
    aws.lambda_event_source_mapping.LambdaEventSourceMapping(
        ctx.scope,
        "archiver_event_source",
        event_source_arn=queue.arn,
        function_name=consumer.arn,
        batch_size=settings.batch_size,
        # The handler returns the messages it could not archive; Lambda deletes only the others.
        function_response_types=["ReportBatchItemFailures"],
        enabled=True,
        # Lambda checks the role may receive from the queue, and S3 must refuse unencrypted writes
        # before the first message is archived.
        depends_on=[consumer.role.policy, *bucket.ready],
    )
    ctx.outputs.add("audit_archiver_function_name", consumer.name, description="Name of the audit archiver Lambda")
    return consumer


def grant_consumer_access(ctx: PluginContext, consumer: keys.Function, bucket: ArchiveBucket) -> None:
    """Exactly what the event source mapping and runtime/audit_archive.py call (the basics come
    with the function)."""
    kms = ctx[keys.KMS_KEY]
    queue = ctx[keys.AUDIT_QUEUE]
    queue.grant_consume(ctx.roles, consumer, sid="AuditQueueConsume")
    # PutObject only: the archiver can neither read nor delete the archive.
    ctx.roles.grant(consumer, sid="ArchiveWrite", actions=["s3:PutObject"], resources=[bucket.objects(ARCHIVE_PREFIX)])
    kms.grant_use(ctx.roles, consumer, sid="ArchiveWriteKms", actions=["kms:GenerateDataKey"], service="s3")
