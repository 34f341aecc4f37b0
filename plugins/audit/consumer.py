"""The audit queue's consumer: a Lambda function fed by an SQS event source mapping with
partial batch responses.

A message the handler keeps reporting as failed moves to the audit queue's dead-letter queue
after the queue's maxReceiveCount: the queue's owner (the messaging plugin) creates both and
the redrive policy joining them, and alarms on the dead-letter queue through ``ctx.monitoring``. This
plugin refuses a queue without one: a poison message would otherwise block its FIFO message
group -- and with it the audit trail of one client -- until it expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments_platform.core import ConfigError, PluginContext, Role, aws, grant_function_basics, keys, platform_function

from .bucket import ArchiveBucket
from .settings import AuditSettings

CONSUMER = "audit-archiver"
HANDLER = "payments_runtime.audit_archive.handler"
ARCHIVE_PREFIX = "audit/"  # runtime/audit_archive.py writes under it


@dataclass(frozen=True)
class Consumer:
    function_name: str
    log_group: Any
    role: Role


def create_consumer(ctx: PluginContext, settings: AuditSettings, bucket: ArchiveBucket) -> Consumer:
    scope = ctx.scope
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

    name = ctx.naming.name(CONSUMER, kind="lambda")
    role = ctx.roles.role(CONSUMER, description="Audit archiver: reads the audit queue, writes the archive bucket")
    # S3 through the VPC's gateway endpoint; the Lambda service itself polls the queue.
    built = platform_function(
        ctx,
        "archiver",
        name=name,
        description="Archives the SQS FIFO audit trail to the audit archive bucket (PCI DSS 10.5.1)",
        role=role,
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
    function, log_group = built.function, built.log_group
    aws.lambda_event_source_mapping.LambdaEventSourceMapping(
        scope,
        "archiver_event_source",
        event_source_arn=queue.arn,
        function_name=function.arn,
        batch_size=settings.batch_size,
        # The handler returns the messages it could not archive; Lambda deletes only the others.
        function_response_types=["ReportBatchItemFailures"],
        enabled=True,
        # Lambda checks the role may receive from the queue, and S3 must refuse unencrypted writes
        # before the first message is archived.
        depends_on=[role.policy, *bucket.ready],
    )
    ctx.monitoring.function(CONSUMER, function_name=name, log_group_name=f"/aws/lambda/{name}")
    ctx.monitoring.log_group(CONSUMER, log_group_name=log_group.name, log_group_arn=log_group.arn)
    ctx.outputs.add(
        "audit_archiver_function_name", function.function_name, description="Name of the audit archiver Lambda"
    )
    return Consumer(function_name=name, log_group=log_group, role=role)


def grant_consumer_access(ctx: PluginContext, consumer: Consumer, bucket: ArchiveBucket) -> None:
    """Exactly what the event source mapping and runtime/audit_archive.py call."""
    kms = ctx[keys.KMS_KEY]
    queue = ctx[keys.AUDIT_QUEUE]
    role = consumer.role
    queue.grant_consume(ctx.roles, role, sid="AuditQueueConsume")
    # PutObject only: the archiver can neither read nor delete the archive.
    ctx.roles.grant(role, sid="ArchiveWrite", actions=["s3:PutObject"], resources=[bucket.objects(ARCHIVE_PREFIX)])
    kms.grant_use(ctx.roles, role, sid="ArchiveWriteKms", actions=["kms:GenerateDataKey"], service="s3")
    grant_function_basics(ctx.roles, role, consumer.log_group.arn)
