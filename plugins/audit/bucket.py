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

from dataclasses import dataclass
from typing import Any

from payments_platform.core import BucketLifecycle, PluginContext, deny_unencrypted_uploads, hardened_bucket, keys

from .settings import AuditSettings

# S3 bucket names are global across all accounts: the account id makes ours unique.
ACCOUNT_ID_PREFIX_LENGTH = len("123456789012-")


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
    kms = ctx[keys.KMS_KEY]
    name = f"{ctx.aws.account_id}-{ctx.naming.name('payments-audit-archive', kind='s3_bucket')}"
    built = hardened_bucket(
        ctx,
        "archive_bucket",
        name=name,
        lifecycle=BucketLifecycle(
            "audit-trail-retention",
            noncurrent_version_days=settings.noncurrent_version_days,
            transition_days=settings.glacier_transition_days,
            transition_storage_class="GLACIER_IR",
            expiration_days=settings.retention_days,
        ),
        policy_statements=lambda bucket_arn: archive_policy_statements(bucket_arn, kms.arn),
        # The platform stays destroyable: destroy empties the bucket, old versions included.
        force_destroy=True,
        tags={"Name": name},
    )
    ctx.compliance.evidence(
        "10.5.1",
        built.lifecycle,
        expect={"rule.0.expiration.0.days": settings.retention_days, "rule.0.transition.0.storage_class": "GLACIER_IR"},
        attributes=("rule.0.transition.0.days",),
        note="every audit record stays at least 400 days, the first months in an immediately available class",
    )
    ctx.compliance.evidence(
        "10.3",
        built.versioning,
        expect={"versioning_configuration.status": "Enabled"},
        note="archived audit records are versioned; writers may only PutObject, never overwrite or delete",
    )
    ctx.compliance.evidence(
        "3.5.1",
        built.encryption,
        attributes=("rule.0.apply_server_side_encryption_by_default.kms_master_key_id",),
        note="the archive is encrypted under the platform CMK (and its records hold no PAN)",
    )
    return ArchiveBucket(name=name, arn=built.arn, construct=built.bucket, ready=(built.encryption, built.policy))


def archive_policy_statements(bucket_arn: str, kms_key_arn: str) -> list[dict[str, Any]]:
    """After the hardened bucket's TLS-only statement: TLS 1.2+, and every object encrypted
    with the platform CMK."""
    objects = f"{bucket_arn}/*"
    return [
        # PCI DSS 4.2.1: nothing reaches the archive, or leaves it, without TLS 1.2+.
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
        deny_unencrypted_uploads(bucket_arn),
        {
            "Sid": "DenyOtherKmsKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": kms_key_arn}},
        },
    ]
