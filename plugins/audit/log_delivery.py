"""CloudWatch Logs → Firehose → the archive bucket, for every log group of the stack
(``ctx.monitoring.log_groups``: the registered ones -- function, API access and execution, VPC
flow logs -- and any other a plugin made without registering it; PCI DSS 10.2, 10.5.1).

Log groups keep their 30-day retention (the specification's); the archive keeps the year.
One delivery stream per log group, so each lands under its own prefix --
``logs/<key>/YYYY/MM/DD/HH/`` (Firehose appends the UTC hour) -- without dynamic partitioning,
which would have to decompress every record. Objects hold CloudWatch Logs' gzip'd JSON as
delivered. A stream costs nothing while idle.

Two roles, one inline policy each: CloudWatch Logs may put records into these streams only;
Firehose may write objects under ``logs/`` (and its error prefix) only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from payments_platform.core import MonitoredLogGroup, PluginContext, aws, keys

from .bucket import ArchiveBucket
from .settings import AuditSettings

LOGS_PREFIX = "logs/"
ERRORS_PREFIX = "logs-errors/"
DELIVERY_ROLE = "audit-log-delivery"
SUBSCRIPTION_ROLE = "audit-log-subscription"
# Firehose's documented needs for an S3 destination, split by what they apply to.
FIREHOSE_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads")
FIREHOSE_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject")
ALL_EVENTS = ""  # the empty filter pattern matches every log event


@dataclass(frozen=True)
class DeliveryRoles:
    # Firehose writes objects with it (the bucket policy lets it write without If-None-Match)
    delivery: Any
    # CloudWatch Logs puts subscribed events into the streams with it
    subscription: Any


def create_delivery_roles(ctx: PluginContext) -> DeliveryRoles:
    """In ``resources``: the archive's bucket policy names the delivery role."""
    # Confused-deputy guards (AWS's documented trust conditions for each service): the services
    # may assume these roles only on this account's behalf.
    delivery_role = ctx.roles.role(
        DELIVERY_ROLE,
        service="firehose.amazonaws.com",
        description="Firehose: writes archived log events to the audit archive",
        trust_conditions={"StringEquals": {"sts:ExternalId": ctx.aws.account_id}},
    )
    subscription_role = ctx.roles.role(
        SUBSCRIPTION_ROLE,
        service="logs.amazonaws.com",
        description="CloudWatch Logs: sends subscribed log events to Firehose",
        trust_conditions={"StringLike": {"aws:SourceArn": ctx.aws.arn("logs", "*")}},
    )
    return DeliveryRoles(delivery=delivery_role, subscription=subscription_role)


def archive_log_groups(
    ctx: PluginContext,
    settings: AuditSettings,
    bucket: ArchiveBucket,
    roles: DeliveryRoles,
    log_groups: Sequence[MonitoredLogGroup],
) -> list[Any]:
    """A delivery stream and a subscription filter per log group; returns the streams."""
    if not log_groups:
        return []
    scope = ctx.scope
    kms = ctx[keys.KMS_KEY]
    delivery_role, subscription_role = roles.delivery, roles.subscription
    streams = []
    for group in log_groups:
        construct_id = group.key.replace("-", "_")
        name = ctx.naming.name(f"audit-logs-{group.key}", kind="firehose")
        stream = aws.kinesis_firehose_delivery_stream.KinesisFirehoseDeliveryStream(
            scope,
            f"log_archive_{construct_id}",
            name=name,
            destination="extended_s3",
            # PCI DSS 3.5.1: records buffered in Firehose are encrypted with the platform CMK too.
            server_side_encryption={"enabled": True, "key_type": "CUSTOMER_MANAGED_CMK", "key_arn": kms.arn},
            extended_s3_configuration={
                "role_arn": delivery_role.arn,
                "bucket_arn": bucket.arn,
                "prefix": f"{LOGS_PREFIX}{group.key}/",
                "error_output_prefix": f"{ERRORS_PREFIX}{group.key}/",
                "buffering_interval": settings.log_buffer_seconds,
                "buffering_size": settings.log_buffer_mb,
                "kms_key_arn": kms.arn,
            },
            tags={"Name": name},
            depends_on=[delivery_role.policy, *bucket.ready],
        )
        aws.cloudwatch_log_subscription_filter.CloudwatchLogSubscriptionFilter(
            scope,
            f"log_archive_{construct_id}_subscription",
            name=ctx.naming.name("audit-archive"),
            log_group_name=group.log_group_name,
            filter_pattern=ALL_EVENTS,
            destination_arn=stream.arn,
            role_arn=subscription_role.arn,
            # CloudWatch Logs test-delivers when the filter is created: the role must already allow it.
            depends_on=[subscription_role.policy],
        )
        streams.append(stream)

    stream_arns = [stream.arn for stream in streams]
    ctx.roles.grant(
        subscription_role,
        sid="PutIntoArchiveStreams",
        actions=["firehose:PutRecord", "firehose:PutRecordBatch"],
        resources=stream_arns,
    )
    ctx.roles.grant(delivery_role, sid="ArchiveBucket", actions=list(FIREHOSE_BUCKET_ACTIONS), resources=[bucket.arn])
    ctx.roles.grant(
        delivery_role,
        sid="ArchiveObjects",
        actions=list(FIREHOSE_OBJECT_ACTIONS),
        resources=[bucket.objects(LOGS_PREFIX), bucket.objects(ERRORS_PREFIX)],
    )
    kms.grant_use(
        ctx.roles, delivery_role, sid="ArchiveObjectsKms", actions=["kms:Decrypt", "kms:GenerateDataKey"], service="s3"
    )
    return streams
