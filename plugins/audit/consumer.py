"""The audit queue's consumer: a Lambda function fed by an SQS event source mapping, its
dead-letter queue (FIFO, like its source) and the redrive policy that sends poison messages there.

The dead-letter queue belongs here, not to the messaging plugin: what counts as a message that
cannot be processed, and how often to try, is the consumer's decision. The redrive policy is a
resource of its own (``aws_sqs_queue_redrive_policy``) on the published queue URL, so the queue
itself is never touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from payments_platform.core import ConfigError, keys
from payments_platform.core.cdktf_adapter import aws
from payments_platform.core.context import PluginContext
from payments_platform.core.roles import Role, grant_function_basics, grant_key_via_service

from .bucket import ArchiveBucket
from .settings import AuditSettings

CONSUMER = "audit-archiver"
HANDLER = "payments_runtime.audit_archive.handler"
ARCHIVE_PREFIX = "audit/"  # runtime/audit_archive.py writes under it
DAY_SECONDS = 86_400

QUEUE_CONSUME_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")


@dataclass(frozen=True)
class Consumer:
    function_name: str
    log_group: Any
    role: Role
    dead_letter_queue: Any


def create_consumer(ctx: PluginContext, settings: AuditSettings, bucket: ArchiveBucket) -> Consumer:
    scope = ctx.scope
    kms = ctx[keys.KMS_KEY]
    queue = ctx[keys.AUDIT_QUEUE]
    network = ctx[keys.NETWORK]
    package = ctx[keys.RUNTIME_PACKAGE]
    if settings.consumer_timeout_seconds > queue.visibility_timeout_seconds:
        raise ConfigError(
            f"environment '{ctx.environment.name}', plugin 'audit', setting 'consumer_timeout_seconds': "
            f"{settings.consumer_timeout_seconds} s exceeds the audit queue's visibility timeout "
            f"({queue.visibility_timeout_seconds} s); Lambda would refuse the event source mapping"
        )

    dead_letter_queue = _dead_letter_queue(ctx, settings, queue, kms)

    name = ctx.naming.name(CONSUMER, kind="lambda")
    role = ctx.roles.role(CONSUMER, description="Audit archiver: reads the audit queue, writes the archive bucket")
    log_group = aws.cloudwatch_log_group.CloudwatchLogGroup(
        scope,
        "archiver_log_group",
        name=f"/aws/lambda/{name}",
        retention_in_days=settings.consumer_log_retention_days,
        kms_key_id=kms.arn,
    )
    function = aws.lambda_function.LambdaFunction(
        scope,
        "archiver",
        function_name=name,
        description="Archives the SQS FIFO audit trail to the audit archive bucket (PCI DSS 10.5.1)",
        role=role.arn,
        filename=package.filename,
        source_code_hash=package.source_code_hash,
        handler=HANDLER,
        runtime=package.runtime,
        architectures=[package.architecture],
        memory_size=settings.consumer_memory_mb,
        timeout=settings.consumer_timeout_seconds,
        reserved_concurrent_executions=settings.consumer_reserved_concurrency,
        tracing_config={"mode": "Active"},
        # S3 through the VPC's gateway endpoint; the Lambda service itself polls the queue.
        vpc_config={
            "subnet_ids": list(network.private_subnet_ids),
            "security_group_ids": [network.lambda_security_group_id],
        },
        environment={
            "variables": {
                "ARCHIVE_BUCKET_NAME": bucket.name,
                "ARCHIVE_KMS_KEY_ARN": kms.arn,
                "LOG_LEVEL": "INFO",
                "ENVIRONMENT": ctx.environment.name,
            }
        },
        kms_key_arn=kms.arn,
        logging_config={"log_format": "Text", "log_group": log_group.name},
        depends_on=[log_group, role.policy],
    )
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
    ctx.outputs.add("audit_archiver_function_name", function.function_name, description="Name of the audit archiver Lambda")
    return Consumer(function_name=name, log_group=log_group, role=role, dead_letter_queue=dead_letter_queue)


def _dead_letter_queue(ctx: PluginContext, settings: AuditSettings, queue: keys.Queue, kms: keys.KmsKey) -> Any:
    scope = ctx.scope
    name = ctx.naming.fifo_queue("audit-archive-dlq")
    # The dead-letter queue of a FIFO queue must be FIFO too.
    dead_letter = aws.sqs_queue.SqsQueue(
        scope,
        "archive_dead_letter_queue",
        name=name,
        fifo_queue=True,
        message_retention_seconds=settings.dead_letter_retention_days * DAY_SECONDS,
        kms_master_key_id=kms.arn,
        tags={"Name": name},
    )
    aws.sqs_queue_policy.SqsQueuePolicy(
        scope,
        "archive_dead_letter_queue_policy",
        queue_url=dead_letter.url,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {  # PCI DSS 4.2.1
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "sqs:*",
                        "Resource": dead_letter.arn,
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    aws.sqs_queue_redrive_allow_policy.SqsQueueRedriveAllowPolicy(
        scope,
        "archive_dead_letter_queue_redrive_allow",
        queue_url=dead_letter.url,
        redrive_allow_policy=json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [queue.arn]}),
    )
    aws.sqs_queue_redrive_policy.SqsQueueRedrivePolicy(
        scope,
        "audit_queue_redrive",
        queue_url=queue.url,
        redrive_policy=json.dumps({"deadLetterTargetArn": dead_letter.arn, "maxReceiveCount": settings.max_receive_count}),
    )
    ctx.monitoring.queue("audit-dlq", queue_name=name, dead_letter_for=queue.name)
    ctx.outputs.add("audit_dead_letter_queue_url", dead_letter.url, description="Dead-letter queue of the audit archiver")
    return dead_letter


def grant_consumer_access(ctx: PluginContext, consumer: Consumer, bucket: ArchiveBucket) -> None:
    """Exactly what the event source mapping and runtime/audit_archive.py call."""
    region = ctx.aws.region
    kms = ctx[keys.KMS_KEY]
    queue = ctx[keys.AUDIT_QUEUE]
    role = consumer.role
    ctx.roles.grant(role, sid="AuditQueueConsume", actions=list(QUEUE_CONSUME_ACTIONS), resources=[queue.arn])
    grant_key_via_service(
        ctx.roles, role, kms.arn, sid="AuditQueueConsumeKms", actions=["kms:Decrypt"], service="sqs", region=region
    )
    # PutObject only: the archiver can neither read nor delete the archive.
    ctx.roles.grant(role, sid="ArchiveWrite", actions=["s3:PutObject"], resources=[bucket.objects(ARCHIVE_PREFIX)])
    grant_key_via_service(
        ctx.roles, role, kms.arn, sid="ArchiveWriteKms", actions=["kms:GenerateDataKey"], service="s3", region=region
    )
    grant_function_basics(ctx.roles, role, consumer.log_group.arn)
