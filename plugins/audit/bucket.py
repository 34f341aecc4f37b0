"""The archive bucket: where the audit trail is kept for a year (PCI DSS 10.5.1).

Encrypted with the platform CMK (PCI DSS 3.5.1 / 10.3.2), versioned, ACLs disabled, public
access blocked, TLS 1.2+ only (PCI DSS 4.2.1), unencrypted or foreign-key uploads refused.
Lifecycle: S3 Standard → Glacier Instant Retrieval (millisecond reads, so the whole year stays
"immediately available") → expiry after ``retention_days`` (≥ 400); a replaced or deleted
version is kept ``noncurrent_version_days`` (≥ 400) too.

PCI DSS 10.3.2 / 10.5.1: the bucket policy denies every principal but the teardown principals
(settings: ``teardown_principal_arns``, by default the principal running Terraform) deleting an
object or a version, overwriting an object (a ``PutObject`` without ``If-None-Match: *``; the
archiver always sends it, Firehose's own role writes fresh keys) and changing the bucket's
policy, lifecycle, versioning, Object Lock, encryption, public access block, ownership or
replication. An explicit Deny in a bucket policy binds administrators too: their IAM
``s3:*`` cannot override it.

Object Lock is deliberately off (plugins/audit/README.md, "Decisions"). It can only be turned on
for a bucket, never off; in compliance mode nobody can delete a retained object, so the
environment could no longer be destroyed; in governance mode the deploying role would need
``s3:BypassGovernanceRetention`` to destroy it -- the same "one principal may" rule as the deny
here, with a lock that can never be removed. The deny is the one way; the root user (which can
always delete a bucket policy) stays the break-glass path, as for every AWS account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments_platform.core import BucketLifecycle, PluginContext, aws, deny_unencrypted_uploads, hardened_bucket, keys

from .settings import AuditSettings

OBJECT_DELETION_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion")
# Every setting that could shorten the archive's memory or open it (a Delete* call is authorised
# as its Put* action: DeleteBucketLifecycle as s3:PutLifecycleConfiguration, and so on).
BUCKET_CONFIGURATION_ACTIONS = (
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
)
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


def create_archive_bucket(ctx: PluginContext, settings: AuditSettings, *, delivery_role_arn: str) -> ArchiveBucket:
    """``delivery_role_arn``: the role Firehose writes log objects with (they carry no
    ``If-None-Match``, and Firehose names every object afresh)."""
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
        policy_statements=lambda bucket_arn: archive_policy_statements(
            bucket_arn,
            kms.arn,
            teardown_principal_arns=teardown_principals(ctx, settings),
            log_writer_arns=[delivery_role_arn],
        ),
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
        "10.3",
        built.policy,
        attributes=("policy",),
        note="the bucket policy denies deleting or overwriting archived records and changing the bucket's policy, "
        "lifecycle or versioning to every principal but the documented teardown principal",
    )
    ctx.compliance.evidence(
        "3.5.1",
        built.encryption,
        attributes=("rule.0.apply_server_side_encryption_by_default.kms_master_key_id",),
        note="the archive is encrypted under the platform CMK (and its records hold no PAN)",
    )
    return ArchiveBucket(name=name, arn=built.arn, construct=built.bucket, ready=(built.encryption, built.policy))


def teardown_principals(ctx: PluginContext, settings: AuditSettings) -> list[str]:
    """The settings' principals, or the one running Terraform: an assumed role's session resolved
    to the role's ARN (what ``aws:PrincipalArn`` holds), a user's ARN as it is."""
    if settings.teardown_principal_arns:
        return list(settings.teardown_principal_arns)
    session = aws.data_aws_iam_session_context.DataAwsIamSessionContext(
        ctx.scope, "archive_deployer_session", arn=ctx.aws.caller_arn
    )
    return [session.issuer_arn]


def archive_policy_statements(
    bucket_arn: str, kms_key_arn: str, *, teardown_principal_arns: list[str], log_writer_arns: list[str]
) -> list[dict[str, Any]]:
    """After the hardened bucket's TLS-only statement: TLS 1.2+, every object encrypted with the
    platform CMK, and the archive immutable to everyone but ``teardown_principal_arns``."""
    objects = f"{bucket_arn}/*"
    not_teardown = {"ArnNotEquals": {"aws:PrincipalArn": teardown_principal_arns}}
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
        # PCI DSS 10.3.2 / 10.5.1: no record leaves the archive before its year is up. Deleting an
        # object only adds a delete marker, but it hides the record: denied as well.
        {
            "Sid": "DenyArchiveDeletion",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(OBJECT_DELETION_ACTIONS),
            "Resource": objects,
            "Condition": not_teardown,
        },
        # An overwrite is a PutObject on an existing key: S3 refuses one with If-None-Match: *
        # (412), so only writes without it are denied. Firehose sends none but names every
        # object afresh; its role may write only under logs/ (log_delivery.py).
        {
            "Sid": "DenyArchiveOverwrite",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "Null": {"s3:if-none-match": "true"},
                "ArnNotEquals": {"aws:PrincipalArn": [*teardown_principal_arns, *log_writer_arns]},
            },
        },
        {
            "Sid": "DenyArchiveReconfiguration",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(BUCKET_CONFIGURATION_ACTIONS),
            "Resource": bucket_arn,
            "Condition": not_teardown,
        },
    ]
