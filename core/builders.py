"""Secure-default builders: the S3 bucket and the Lambda function, built one way everywhere.

Like AWS CDK's ``s3.Bucket`` (encrypted, private from the start), a plugin does not harden
these by hand, and cannot forget a part:

* :func:`hardened_bucket` — versioned, encrypted with a KMS CMK (bucket key on), ACLs off
  (``BucketOwnerEnforced``), every public access blocked, a TLS-only bucket policy, a lifecycle
  that expires old versions and abandoned multipart uploads.
* :func:`platform_function` — the seed's limits on every function: its own log group created
  first (retention, CMK), X-Ray active, in the platform's private subnets behind the Lambda
  security group, reserved concurrency, environment encrypted with the CMK.

Both take the scope and construct ids from the caller: an id is a Terraform address, and a
changed address replaces a stateful resource.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from payments_platform.core import keys
from payments_platform.core.declaration import LOG_RETENTION_DAYS
from payments_platform.core.errors import RegistrationError
from payments_platform.core.roles import Role

if TYPE_CHECKING:
    from payments_platform.core.context import PluginContext

# Abandoned multipart uploads are invisible storage: gone after a week.
MULTIPART_ABORT_DAYS = 7
# The seed's floor for every function (CPU scales with memory; below it p99 latency suffers).
MIN_FUNCTION_MEMORY_MB = 512
# Lambda's own limits; anything else fails at apply time.
MAX_FUNCTION_MEMORY_MB = 10240
MAX_FUNCTION_TIMEOUT_SECONDS = 900


# --------------------------------------------------------------------------- buckets


@dataclass(frozen=True)
class BucketLifecycle:
    """The bucket's one lifecycle rule, over every object: noncurrent versions expire after
    ``noncurrent_version_days``; optionally current objects move to ``transition_storage_class``
    after ``transition_days`` and expire after ``expiration_days``."""

    # the lifecycle rule's id (stable: a new id replaces the rule)
    rule_id: str
    # days a noncurrent version is kept after it is superseded
    noncurrent_version_days: int
    # days until current objects move to transition_storage_class (None: they stay)
    transition_days: int | None = None
    # the storage class they move to
    transition_storage_class: str = "GLACIER_IR"
    # days until current objects expire (None: kept until deleted)
    expiration_days: int | None = None


@dataclass(frozen=True)
class HardenedBucket:
    """The bucket and each resource hardening it (for ``depends_on`` and compliance evidence)."""

    # the aws_s3_bucket
    bucket: Any
    # its ownership controls (BucketOwnerEnforced: ACLs disabled)
    ownership: Any
    # its public access block (all four settings on)
    public_access: Any
    # its versioning (enabled)
    versioning: Any
    # its SSE-KMS configuration (the given key, bucket key on)
    encryption: Any
    # its one lifecycle rule (BucketLifecycle)
    lifecycle: Any
    # its bucket policy (TLS only, then the plugin's statements)
    policy: Any

    @property
    def id(self) -> Any:
        """The bucket's name (Terraform's id of an S3 bucket)."""
        return self.bucket.id

    @property
    def arn(self) -> Any:
        """The bucket's ARN, for grants and policy statements."""
        return self.bucket.arn


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    """PCI DSS 4.2.1: nothing reaches the bucket, or leaves it, without TLS. Every hardened
    bucket's policy starts with it."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def deny_unencrypted_uploads(bucket_arn: str) -> dict[str, Any]:
    """PCI DSS 3.5.1: an upload that does not ask for SSE-KMS is refused (the bucket's default
    encryption would cover it, but the writer must mean it)."""
    return {
        "Sid": "DenyUnencryptedObjectUploads",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    }


def bucket_policy(bucket_arn: str, statements: Sequence[Mapping[str, Any]] = ()) -> str:
    """The hardened bucket's policy document: TLS only, then ``statements``."""
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [deny_insecure_transport(bucket_arn), *map(dict, statements)]}
    )


BUCKET_PARTS = ("ownership", "public_access", "versioning", "encryption", "lifecycle", "policy")


def hardened_bucket(
    scope: Any,
    construct_id: str,
    *,
    name: str,
    kms_key_arn: str,
    lifecycle: BucketLifecycle,
    policy_statements: Callable[[str], Sequence[Mapping[str, Any]]] | None = None,
    tags: Mapping[str, str] | None = None,
    force_destroy: bool = False,
    prevent_destroy: bool = False,
    part_ids: Mapping[str, str] | None = None,
    policy_waits_for_public_access_block: bool = True,
) -> HardenedBucket:
    """An S3 bucket named ``name``: versioned, SSE-KMS under ``kms_key_arn`` (bucket key on),
    ACLs disabled, every public access blocked, a TLS-only policy, one lifecycle rule.

    ``policy_statements(bucket_arn)`` returns the policy's statements after the TLS-only one
    (the ARN is a reference to the bucket). Construct ids are
    ``construct_id`` for the bucket and ``<construct_id>_<part>`` for each of
    :data:`BUCKET_PARTS`; ``part_ids`` keeps the ids of a bucket built before this helper.
    ``force_destroy`` keeps an environment destroyable (destroy empties the bucket);
    ``prevent_destroy`` protects a bucket that must outlive any plan. The policy waits for the
    public access block (S3 rejects a bucket policy while that block is being applied);
    ``policy_waits_for_public_access_block=False`` only keeps an older bucket's synth as it was.
    """
    from payments_platform.core.cdktf_adapter import aws

    unknown = set(part_ids or ()) - set(BUCKET_PARTS)
    if unknown:
        raise RegistrationError(f"bucket '{construct_id}': unknown part ids {sorted(unknown)} (parts: {BUCKET_PARTS})")
    ids = {part: f"{construct_id}_{part}" for part in BUCKET_PARTS} | dict(part_ids or {})

    bucket = aws.s3_bucket.S3Bucket(
        scope,
        construct_id,
        bucket=name,
        force_destroy=force_destroy or None,
        tags=dict(tags) if tags else None,
        lifecycle={"prevent_destroy": True} if prevent_destroy else None,
    )
    ownership_controls = aws.s3_bucket_ownership_controls
    ownership = ownership_controls.S3BucketOwnershipControls(
        scope,
        ids["ownership"],
        bucket=bucket.id,
        rule=ownership_controls.S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
    )
    public_access = aws.s3_bucket_public_access_block.S3BucketPublicAccessBlock(
        scope,
        ids["public_access"],
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    bucket_versioning = aws.s3_bucket_versioning
    versioning = bucket_versioning.S3BucketVersioningA(
        scope,
        ids["versioning"],
        bucket=bucket.id,
        versioning_configuration=bucket_versioning.S3BucketVersioningVersioningConfiguration(status="Enabled"),
    )
    # Blocks inside lists need their struct classes: a plain dict there is synthesized empty.
    sse = aws.s3_bucket_server_side_encryption_configuration
    encryption = sse.S3BucketServerSideEncryptionConfigurationA(
        scope,
        ids["encryption"],
        bucket=bucket.id,
        rule=[
            sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=sse.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                    sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
                ),
                # One data key per bucket, not per object: far fewer KMS calls for many small objects.
                bucket_key_enabled=True,
            )
        ],
    )
    rules = aws.s3_bucket_lifecycle_configuration
    expiry = rules.S3BucketLifecycleConfiguration(
        scope,
        ids["lifecycle"],
        bucket=bucket.id,
        rule=[
            rules.S3BucketLifecycleConfigurationRule(
                id=lifecycle.rule_id,
                status="Enabled",
                filter=[rules.S3BucketLifecycleConfigurationRuleFilter(prefix="")],  # every object
                transition=(
                    [
                        rules.S3BucketLifecycleConfigurationRuleTransition(
                            days=lifecycle.transition_days, storage_class=lifecycle.transition_storage_class
                        )
                    ]
                    if lifecycle.transition_days is not None
                    else None
                ),
                expiration=(
                    [rules.S3BucketLifecycleConfigurationRuleExpiration(days=lifecycle.expiration_days)]
                    if lifecycle.expiration_days is not None
                    else None
                ),
                noncurrent_version_expiration=[
                    rules.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=lifecycle.noncurrent_version_days
                    )
                ],
                abort_incomplete_multipart_upload=[
                    rules.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                        days_after_initiation=MULTIPART_ABORT_DAYS
                    )
                ],
            )
        ],
        # Noncurrent-version rules act on a versioned bucket.
        depends_on=[versioning],
    )
    policy = aws.s3_bucket_policy.S3BucketPolicy(
        scope,
        ids["policy"],
        bucket=bucket.id,
        policy=bucket_policy(bucket.arn, policy_statements(bucket.arn) if policy_statements else ()),
        depends_on=[public_access] if policy_waits_for_public_access_block else None,
    )
    return HardenedBucket(bucket, ownership, public_access, versioning, encryption, expiry, policy)


# --------------------------------------------------------------------------- functions


@dataclass(frozen=True)
class PlatformFunction:
    """A function built by :func:`platform_function`, with its log group and role."""

    # the function's name
    name: str
    # the aws_lambda_function
    function: Any
    # its aws_cloudwatch_log_group (retention, CMK)
    log_group: Any
    # the role it runs with
    role: Role

    @property
    def log_group_name(self) -> str:
        """``/aws/lambda/<name>``, the log group Lambda writes to."""
        return f"/aws/lambda/{self.name}"


def platform_function(
    ctx: PluginContext,
    construct_id: str,
    *,
    name: str,
    description: str,
    role: Role,
    package: keys.FunctionPackage,
    handler: str,
    environment: Mapping[str, str],
    reserved_concurrency: int,
    log_retention_days: int,
    memory_mb: int = MIN_FUNCTION_MEMORY_MB,
    timeout_seconds: int = 10,
    planned_p99_ms: float | None = None,
    planned_p99_source: str | None = None,
) -> PlatformFunction:
    """A Lambda function running ``package`` with ``handler``, with the seed's limits: its own
    log group (retention, CMK), X-Ray, private subnets, reserved concurrency, CMK-encrypted environment.

    Its log group ``/aws/lambda/<name>`` (construct ``<construct_id>_log_group``) is created
    first, kept ``log_retention_days`` and encrypted with the platform CMK, so Lambda never
    creates one unencrypted and never expiring. X-Ray tracing is active; the function runs in
    ``keys.NETWORK``'s private subnets behind its Lambda security group (so the plugin must
    declare ``keys.NETWORK`` in ``requires``); its environment is encrypted with the platform
    CMK; ``reserved_concurrency`` caps it (and keeps it from starving the account's others).
    ``planned_p99_ms`` (with ``planned_p99_source``, where the figure comes from) is the service time
    its capacity is planned with, tagged on the function (``PLANNED_P99_TAGS``): policy rule
    PP-CAPACITY sizes a method in front of it as reserved concurrency ÷ that p99, else ÷ its timeout.
    The function waits for ``role``'s policy: AWS rejects a VPC function whose role may not
    yet create network interfaces. Grants stay the caller's: at least
    ``grant_function_basics(ctx.roles, role, fn.log_group.arn)``.
    """
    from payments_platform.core.cdktf_adapter import aws

    _check_function_limits(
        f"plugin '{ctx.name}' function '{name}'",
        reserved_concurrency=reserved_concurrency,
        log_retention_days=log_retention_days,
        memory_mb=memory_mb,
        timeout_seconds=timeout_seconds,
        planned_p99_ms=planned_p99_ms,
    )
    kms = ctx[keys.KMS_KEY]
    network = ctx[keys.NETWORK]
    log_group = aws.cloudwatch_log_group.CloudwatchLogGroup(
        ctx.scope,
        f"{construct_id}_log_group",
        name=f"/aws/lambda/{name}",
        retention_in_days=log_retention_days,
        kms_key_id=kms.arn,
    )
    function = aws.lambda_function.LambdaFunction(
        ctx.scope,
        construct_id,
        function_name=name,
        description=description,
        role=role.arn,
        source_code_hash=package.source_code_hash,
        **package.code,
        handler=handler,
        runtime=package.runtime,
        architectures=[package.architecture],
        memory_size=memory_mb,
        timeout=timeout_seconds,
        reserved_concurrent_executions=reserved_concurrency,
        tracing_config={"mode": "Active"},
        vpc_config={
            "subnet_ids": list(network.private_subnet_ids),
            "security_group_ids": [network.lambda_security_group_id],
        },
        environment={"variables": dict(environment)},
        kms_key_arn=kms.arn,
        logging_config={"log_format": "Text", "log_group": log_group.name},
        tags=_planned_service_time_tags(planned_p99_ms, planned_p99_source),
        depends_on=[log_group, role.policy],
    )
    return PlatformFunction(name, function, log_group, role)


def _check_function_limits(
    where: str,
    *,
    reserved_concurrency: int,
    log_retention_days: int,
    memory_mb: int,
    timeout_seconds: int,
    planned_p99_ms: float | None,
) -> None:
    if isinstance(reserved_concurrency, bool) or not isinstance(reserved_concurrency, int) or reserved_concurrency < 1:
        raise RegistrationError(f"{where}: reserved_concurrency {reserved_concurrency!r} must be a positive integer")
    if log_retention_days not in LOG_RETENTION_DAYS:
        raise RegistrationError(
            f"{where}: log_retention_days {log_retention_days!r} is not a CloudWatch Logs retention period"
        )
    if not 128 <= memory_mb <= MAX_FUNCTION_MEMORY_MB:
        raise RegistrationError(f"{where}: memory_mb {memory_mb!r} is outside Lambda's 128..{MAX_FUNCTION_MEMORY_MB}")
    if not 1 <= timeout_seconds <= MAX_FUNCTION_TIMEOUT_SECONDS:
        raise RegistrationError(
            f"{where}: timeout_seconds {timeout_seconds!r} is outside Lambda's 1..{MAX_FUNCTION_TIMEOUT_SECONDS}"
        )
    if planned_p99_ms is not None and not 0 < planned_p99_ms <= timeout_seconds * 1000:
        raise RegistrationError(
            f"{where}: planned_p99_ms {planned_p99_ms!r} must be within its {timeout_seconds} s timeout"
        )


# Where a function's planned service time travels to the capacity rule and table (core/host/policy.py).
PLANNED_P99_TAGS = ("planned-p99-ms", "planned-p99-source")


def _planned_service_time_tags(p99_ms: float | None, source: str | None) -> dict[str, str] | None:
    if p99_ms is None:
        return None
    ms_tag, source_tag = PLANNED_P99_TAGS
    return {ms_tag: f"{p99_ms:g}", **({source_tag: source} if source else {})}
