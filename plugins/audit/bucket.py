"""The archive bucket: where the audit trail is kept for a year (PCI DSS 10.5.1).

Encrypted with the platform CMK (PCI DSS 3.5.1 / 10.3.2), versioned, ACLs disabled, public
access blocked, TLS 1.2+ only (PCI DSS 4.2.1), unencrypted or foreign-key uploads refused.
Lifecycle: S3 Standard → Glacier Instant Retrieval (millisecond reads, so the whole year stays
"immediately available") → expiry after ``retention_days`` (≥ 400).

Object Lock is deliberately off. It can only be turned on for a bucket, never off, and a
retained object cannot be deleted before its retention ends -- in governance mode only by a
principal holding ``s3:BypassGovernanceRetention`` -- so ``terraform destroy`` of an
environment would either fail or need that bypass right on the deploying role, which defeats
the lock. Integrity rests instead on: the consumer and Firehose may only ``PutObject`` (no
delete, no overwrite: the consumer writes with ``If-None-Match: *``), versioning keeps any
overwritten or deleted version for ``noncurrent_version_days``, and every read and write is
logged by CloudTrail (an account-level trail, outside this platform).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from payments_platform.core import PluginContext, aws, keys

from .settings import AuditSettings

# S3 bucket names are global across all accounts: the account id makes ours unique.
ACCOUNT_ID_PREFIX_LENGTH = len("123456789012-")
MULTIPART_ABORT_DAYS = 7


@dataclass(frozen=True)
class ArchiveBucket:
    name: str
    arn: str
    construct: Any
    # Resources a writer must wait for: encryption and policy in place before the first object.
    ready: tuple[Any, ...]

    def objects(self, prefix: str) -> str:
        return f"{self.arn}/{prefix}*"


def create_archive_bucket(ctx: PluginContext, settings: AuditSettings) -> ArchiveBucket:
    scope = ctx.scope
    kms = ctx[keys.KMS_KEY]
    name = f"{ctx.aws.account_id}-{ctx.naming.name('payments-audit-archive', kind='s3_bucket')}"
    bucket = aws.s3_bucket.S3Bucket(
        scope,
        "archive_bucket",
        bucket=name,
        # The platform stays destroyable: destroy empties the bucket, old versions included.
        force_destroy=True,
        tags={"Name": name},
    )
    aws.s3_bucket_ownership_controls.S3BucketOwnershipControls(
        scope, "archive_bucket_ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}
    )
    public_access = aws.s3_bucket_public_access_block.S3BucketPublicAccessBlock(
        scope,
        "archive_bucket_public_access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    versioning = aws.s3_bucket_versioning.S3BucketVersioningA(
        scope, "archive_bucket_versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}
    )
    sse = aws.s3_bucket_server_side_encryption_configuration
    encryption = sse.S3BucketServerSideEncryptionConfigurationA(
        scope,
        "archive_bucket_encryption",
        bucket=bucket.id,
        rule=[
            sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=sse.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                    sse_algorithm="aws:kms", kms_master_key_id=kms.arn
                ),
                # One data key per bucket, not per object: far fewer KMS calls for many small objects.
                bucket_key_enabled=True,
            )
        ],
    )
    lifecycle = aws.s3_bucket_lifecycle_configuration
    retention = lifecycle.S3BucketLifecycleConfiguration(
        scope,
        "archive_bucket_lifecycle",
        bucket=bucket.id,
        # Typed structs: this rule's blocks are lists in the provider schema, which plain dicts
        # do not convert into.
        rule=[
            lifecycle.S3BucketLifecycleConfigurationRule(
                id="audit-trail-retention",
                status="Enabled",
                filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter(prefix="")],  # every object
                transition=[
                    lifecycle.S3BucketLifecycleConfigurationRuleTransition(
                        days=settings.glacier_transition_days, storage_class="GLACIER_IR"
                    )
                ],
                expiration=[lifecycle.S3BucketLifecycleConfigurationRuleExpiration(days=settings.retention_days)],
                noncurrent_version_expiration=[
                    lifecycle.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=settings.noncurrent_version_days
                    )
                ],
                abort_incomplete_multipart_upload=[
                    lifecycle.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                        days_after_initiation=MULTIPART_ABORT_DAYS
                    )
                ],
            )
        ],
        depends_on=[versioning],
    )
    policy = aws.s3_bucket_policy.S3BucketPolicy(
        scope,
        "archive_bucket_policy",
        bucket=bucket.id,
        policy=archive_bucket_policy(bucket.arn, kms.arn),
        # S3 rejects a bucket policy while the public access block is being applied.
        depends_on=[public_access],
    )
    ctx.compliance.evidence(
        "10.5.1",
        retention,
        expect={"rule.0.expiration.0.days": settings.retention_days, "rule.0.transition.0.storage_class": "GLACIER_IR"},
        attributes=("rule.0.transition.0.days",),
        note="every audit record stays at least 400 days, the first months in an immediately available class",
    )
    ctx.compliance.evidence(
        "10.3",
        versioning,
        expect={"versioning_configuration.status": "Enabled"},
        note="archived audit records are versioned; writers may only PutObject, never overwrite or delete",
    )
    ctx.compliance.evidence(
        "3.5.1",
        encryption,
        attributes=("rule.0.apply_server_side_encryption_by_default.kms_master_key_id",),
        note="the archive is encrypted under the platform CMK (and its records hold no PAN)",
    )
    return ArchiveBucket(name=name, arn=bucket.arn, construct=bucket, ready=(encryption, policy))


def archive_bucket_policy(bucket_arn: str, kms_key_arn: str) -> str:
    objects = f"{bucket_arn}/*"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                # PCI DSS 4.2.1: nothing reaches the archive, or leaves it, without TLS 1.2+.
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, objects],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "DenyOutdatedTls",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, objects],
                    "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
                },
                # PCI DSS 3.5.1 / 10.3.2: every object is encrypted with the platform CMK -- an
                # upload must ask for SSE-KMS and name this key (the archiver and Firehose do).
                {
                    "Sid": "DenyUnencryptedObjectUploads",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": objects,
                    "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
                },
                {
                    "Sid": "DenyOtherKmsKeys",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": objects,
                    "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": kms_key_arn}},
                },
            ],
        }
    )
