"""Secure-default builders: the S3 bucket and the Lambda function, built one way everywhere.

Like AWS CDK's ``s3.Bucket`` (encrypted, private from the start), a plugin does not harden
these by hand, and cannot forget a part:

* :func:`hardened_bucket` — versioned, encrypted with a KMS CMK (bucket key on), ACLs off
  (``BucketOwnerEnforced``), every public access blocked, a TLS-only bucket policy, a lifecycle
  that expires old versions and abandoned multipart uploads.
* :func:`platform_function` — the seed's limits on every function: its own role with the basics,
  its own log group created first (retention, CMK), X-Ray active, in the platform's private
  subnets behind the Lambda security group, reserved concurrency, environment encrypted with
  the CMK, registered for monitoring and the audit trail.

Both are called alike -- the plugin's ``ctx``, the construct id, then keywords -- like CDK's
``new s3.Bucket(scope, id, props)``: an id is a Terraform address, and a changed address
replaces a stateful resource. A function is built whole (its role with the basics, its
monitoring, its audit-trail log group) and is itself the grantee: ``table.grant_read(ctx.roles,
fn, sid=...)``.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from payments_platform.core import keys
from payments_platform.core.declaration import LOG_RETENTION_DAYS
from payments_platform.core.errors import PluginDeprecationWarning, RegistrationError
from payments_platform.core.network_needs import Egress
from payments_platform.core.roles import Role, grant_function_basics

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
    ctx: PluginContext,
    construct_id: str,
    *,
    name: str,
    lifecycle: BucketLifecycle,
    kms_key_arn: str | None = None,
    policy_statements: Callable[[str], Sequence[Mapping[str, Any]]] | None = None,
    tags: Mapping[str, str] | None = None,
    force_destroy: bool = False,
    prevent_destroy: bool = False,
    part_ids: Mapping[str, str] | None = None,
    policy_waits_for_public_access_block: bool = True,
) -> HardenedBucket:
    """An S3 bucket named ``name`` in the plugin's stack: versioned, SSE-KMS (bucket key on) under
    ``kms_key_arn`` -- the platform CMK when not given --, ACLs disabled, every public access
    blocked, a TLS-only policy, one lifecycle rule. Called like :func:`platform_function`: the
    plugin's ``ctx``, then the construct id.

    ``policy_statements(bucket_arn)`` returns the policy's statements after the TLS-only one
    (the ARN is a reference to the bucket). Construct ids are
    ``construct_id`` for the bucket and ``<construct_id>_<part>`` for each of
    :data:`BUCKET_PARTS`; ``part_ids`` keeps the ids of a bucket built before this helper.
    ``force_destroy`` keeps an environment destroyable (destroy empties the bucket);
    ``prevent_destroy`` protects a bucket that must outlive any plan. The policy waits for the
    public access block (S3 rejects a bucket policy while that block is being applied);
    ``policy_waits_for_public_access_block=False`` only keeps an older bucket's synth as it was.

    Passing a construct scope instead of ``ctx`` (the shape before this one, with
    ``kms_key_arn`` required) still works, deprecated.
    """
    from payments_platform.core.context import PluginContext

    if isinstance(ctx, PluginContext):
        scope, key_arn = ctx.scope, kms_key_arn or ctx[keys.KMS_KEY].arn
    else:
        warnings.warn(
            f"hardened_bucket({construct_id!r}): pass the plugin's ctx, not a scope (kms_key_arn then defaults "
            "to the platform CMK)",
            PluginDeprecationWarning,
            stacklevel=2,
        )
        if kms_key_arn is None:
            raise RegistrationError(f"bucket '{construct_id}': built in a scope, it needs kms_key_arn")
        scope, key_arn = ctx, kms_key_arn
    return bucket_in_scope(
        scope,
        construct_id,
        name=name,
        kms_key_arn=key_arn,
        lifecycle=lifecycle,
        policy_statements=policy_statements,
        tags=tags,
        force_destroy=force_destroy,
        prevent_destroy=prevent_destroy,
        part_ids=part_ids,
        policy_waits_for_public_access_block=policy_waits_for_public_access_block,
    )


def bucket_in_scope(
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
    """:func:`hardened_bucket` in a construct scope outside any plugin's build (the core's own
    Terraform state bucket stack); not part of the plugin contract."""
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
    ownership, public_access, versioning = _private_and_versioned(scope, ids, bucket)
    encryption = _encryption(scope, ids["encryption"], bucket, kms_key_arn)
    expiry = _lifecycle(scope, ids["lifecycle"], bucket, lifecycle, versioning)
    policy = aws.s3_bucket_policy.S3BucketPolicy(
        scope,
        ids["policy"],
        bucket=bucket.id,
        policy=bucket_policy(bucket.arn, policy_statements(bucket.arn) if policy_statements else ()),
        depends_on=[public_access] if policy_waits_for_public_access_block else None,
    )
    return HardenedBucket(bucket, ownership, public_access, versioning, encryption, expiry, policy)


def _private_and_versioned(scope: Any, ids: Mapping[str, str], bucket: Any) -> tuple[Any, Any, Any]:
    """Ownership controls (ACLs off), the public access block (all four on), versioning (on)."""
    from payments_platform.core.cdktf_adapter import aws

    controls = aws.s3_bucket_ownership_controls
    ownership = controls.S3BucketOwnershipControls(
        scope,
        ids["ownership"],
        bucket=bucket.id,
        rule=controls.S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
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
    return ownership, public_access, versioning


def _encryption(scope: Any, construct_id: str, bucket: Any, kms_key_arn: str) -> Any:
    from payments_platform.core.cdktf_adapter import aws

    # Blocks inside lists need their struct classes: a plain dict there is synthesized empty.
    sse = aws.s3_bucket_server_side_encryption_configuration
    return sse.S3BucketServerSideEncryptionConfigurationA(
        scope,
        construct_id,
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


def _lifecycle(scope: Any, construct_id: str, bucket: Any, lifecycle: BucketLifecycle, versioning: Any) -> Any:
    from payments_platform.core.cdktf_adapter import aws

    rules = aws.s3_bucket_lifecycle_configuration
    transition = (
        [
            rules.S3BucketLifecycleConfigurationRuleTransition(
                days=lifecycle.transition_days, storage_class=lifecycle.transition_storage_class
            )
        ]
        if lifecycle.transition_days is not None
        else None
    )
    expiration = (
        [rules.S3BucketLifecycleConfigurationRuleExpiration(days=lifecycle.expiration_days)]
        if lifecycle.expiration_days is not None
        else None
    )
    return rules.S3BucketLifecycleConfiguration(
        scope,
        construct_id,
        bucket=bucket.id,
        rule=[
            rules.S3BucketLifecycleConfigurationRule(
                id=lifecycle.rule_id,
                status="Enabled",
                filter=[rules.S3BucketLifecycleConfigurationRuleFilter(prefix="")],  # every object
                transition=transition,
                expiration=expiration,
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


# --------------------------------------------------------------------------- functions

# Deprecated name of the one function representation (what platform_function returned before).
PlatformFunction = keys.Function


def platform_function(
    ctx: PluginContext,
    construct_id: str,
    *,
    key: str | None = None,
    description: str,
    package: keys.FunctionPackage,
    handler: str,
    environment: Mapping[str, str],
    reserved_concurrency: int,
    log_retention_days: int,
    memory_mb: int = MIN_FUNCTION_MEMORY_MB,
    timeout_seconds: int = 10,
    role_description: str | None = None,
    role: Role | None = None,
    name: str | None = None,
    planned_p99_ms: float | None = None,
    planned_p99_source: str | None = None,
    egress: Egress | None = None,
) -> keys.Function:
    """The Lambda function ``<key>-<suffix>`` running ``package`` with ``handler``, built whole:
    its role with the basics, its encrypted log group, the seed's limits, its monitoring:

    * its execution role ``<key>-role-<suffix>`` (``role_description``; or ``role``, one of your
      own), granted the basics every platform function needs (``WriteOwnLogs`` on its log group,
      ``XRayTracing``, ``VpcNetworkInterfaces``);
    * its log group ``/aws/lambda/<key>-<suffix>`` (construct ``<construct_id>_log_group``), created
      first, kept ``log_retention_days``, encrypted with the platform CMK -- so Lambda never
      creates one unencrypted and never expiring;
    * the seed's limits: X-Ray active, ``keys.NETWORK``'s private subnets behind its Lambda
      security group (declare ``keys.NETWORK`` in ``requires``), ``reserved_concurrency``,
      environment encrypted with the platform CMK; it waits for the role's policy (AWS rejects
      a VPC function whose role may not yet create network interfaces);
    * registered with ``ctx.monitoring`` under ``key``: graphed and alarmed on errors and
      throttles, its log group archived with the audit trail (PCI DSS 10.2);
    * ``planned_p99_ms`` (and ``planned_p99_source``, where the figure comes from): the service time
      its capacity is planned with, tagged on it (``PLANNED_P99_TAGS``) for rule PP-CAPACITY, which
      sizes a method in front of it as reserved concurrency ÷ that p99 (else ÷ its timeout);
    * ``egress`` (an :class:`~payments_platform.core.Egress`): this function reaches the internet on
      those ports -- asked of ``keys.NETWORK`` (``require_egress``), whose provider places it where it
      has a route out; tagged ``egress-ports`` / ``egress-hosts``. Without it the function has no
      route to the internet, and a URL in its environment is reported at synth (PP-EGRESS).

    Returns the :class:`~payments_platform.core.keys.Function`: publish it under a function key
    (``ctx[MY_FUNCTION] = fn``) and pass it to grants (``table.grant_read(ctx.roles, fn, sid=...)``).

    The shape before this one -- ``name=`` and ``role=`` instead of ``key=`` (no basics, no
    monitoring: the caller did both) -- still works, deprecated.
    """
    limits = _Limits(
        reserved_concurrency, log_retention_days, memory_mb, timeout_seconds, planned_p99_ms, planned_p99_source, egress
    )
    build = functools.partial(
        _build_function,
        ctx,
        construct_id,
        description=description,
        package=package,
        handler=handler,
        environment=environment,
        limits=limits,
    )
    if name is not None and key is None:
        limits.check(ctx, name)
        return build(name, _role_of_the_old_shape(ctx, construct_id, name, role))
    if key is None or (role is None) == (role_description is None):
        raise RegistrationError(
            f"plugin '{ctx.name}' function '{construct_id}': give key= and either role_description= (a role is "
            "created) or role= (one of your own)"
        )
    function_name = ctx.naming.name(key, kind="lambda")
    # Checked before the role exists: a refused function leaves nothing half-built.
    limits.check(ctx, function_name)
    if role is None:
        role = ctx.roles.role(key, description=str(role_description))
    return _with_basics(ctx, build(function_name, role, key=key), egress)


def _with_basics(ctx: PluginContext, function: keys.Function, egress: Egress | None) -> keys.Function:
    """What every function built with a key gets: its egress asked of the network (when declared),
    its role's basics, its monitoring and its log group's archiving."""
    if egress is not None:
        ctx[keys.NETWORK].require_egress(ctx, function, egress)
    grant_function_basics(ctx.roles, function.role, function.log_group_arn)
    key, name = function.key, function.physical_name
    ctx.monitoring.function(key, function_name=name, log_group_name=function.physical_log_group_name)
    ctx.monitoring.log_group(key, log_group_name=function.log_group_name, log_group_arn=function.log_group_arn)
    return function


def _role_of_the_old_shape(ctx: PluginContext, construct_id: str, name: str, role: Role | None) -> Role:
    if role is None:
        raise RegistrationError(f"plugin '{ctx.name}' function '{name}': name= needs role= (or give key=)")
    warnings.warn(
        f"platform_function({construct_id!r}, name=..., role=...): give key= instead of name=; the function then "
        "gets its role's basics and its monitoring itself (drop your grant_function_basics and ctx.monitoring calls)",
        PluginDeprecationWarning,
        stacklevel=3,
    )
    return role


# A function's planned service time, as tags: the p99 in ms, and where that figure comes from.
PLANNED_P99_TAGS = ("planned-p99-ms", "planned-p99-source")


@dataclass(frozen=True)
class _Limits:
    reserved_concurrency: int
    log_retention_days: int
    memory_mb: int
    timeout_seconds: int
    planned_p99_ms: float | None = None
    planned_p99_source: str | None = None
    egress: Egress | None = None

    def check(self, ctx: PluginContext, name: str) -> None:
        where = f"plugin '{ctx.name}' function '{name}'"
        concurrency = self.reserved_concurrency
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise RegistrationError(f"{where}: reserved_concurrency {concurrency!r} must be a positive integer")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise RegistrationError(
                f"{where}: log_retention_days {self.log_retention_days!r} is not a CloudWatch Logs retention period"
            )
        if not 128 <= self.memory_mb <= MAX_FUNCTION_MEMORY_MB:
            raise RegistrationError(
                f"{where}: memory_mb {self.memory_mb!r} is outside Lambda's 128..{MAX_FUNCTION_MEMORY_MB}"
            )
        if not 1 <= self.timeout_seconds <= MAX_FUNCTION_TIMEOUT_SECONDS:
            raise RegistrationError(
                f"{where}: timeout_seconds {self.timeout_seconds!r} is outside Lambda's 1..{MAX_FUNCTION_TIMEOUT_SECONDS}"
            )
        if self.planned_p99_ms is not None and not 0 < self.planned_p99_ms <= self.timeout_seconds * 1000:
            raise RegistrationError(
                f"{where}: planned_p99_ms {self.planned_p99_ms!r} must be within its {self.timeout_seconds} s timeout"
            )

    @property
    def tags(self) -> dict[str, str] | None:
        """Where the planned service time travels to the capacity rule and table (core/host/policy.py),
        and the declared egress to the synth check and the local Lambda service."""
        tags = self.egress.tags() if self.egress is not None else {}
        if self.planned_p99_ms is not None:
            ms_tag, source_tag = PLANNED_P99_TAGS
            tags[ms_tag] = f"{self.planned_p99_ms:g}"
            if self.planned_p99_source:
                tags[source_tag] = self.planned_p99_source
        return tags or None


def _build_function(
    ctx: PluginContext,
    construct_id: str,
    name: str,
    role: Role,
    *,
    description: str,
    package: keys.FunctionPackage,
    handler: str,
    environment: Mapping[str, str],
    limits: _Limits,
    key: str = "",
) -> keys.Function:
    """The log group, then the function."""
    from payments_platform.core.cdktf_adapter import aws

    kms = ctx[keys.KMS_KEY]
    network = ctx[keys.NETWORK]
    log_group = aws.cloudwatch_log_group.CloudwatchLogGroup(
        ctx.scope,
        f"{construct_id}_log_group",
        name=f"/aws/lambda/{name}",
        retention_in_days=limits.log_retention_days,
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
        memory_size=limits.memory_mb,
        timeout=limits.timeout_seconds,
        reserved_concurrent_executions=limits.reserved_concurrency,
        tracing_config={"mode": "Active"},
        vpc_config={
            "subnet_ids": list(network.private_subnet_ids),
            "security_group_ids": [network.lambda_security_group_id],
        },
        environment={"variables": dict(environment)},
        kms_key_arn=kms.arn,
        logging_config={"log_format": "Text", "log_group": log_group.name},
        tags=limits.tags,
        depends_on=[log_group, role.policy],
    )
    return keys.Function(
        name=function.function_name,
        arn=function.arn,
        role=role,
        log_group_name=log_group.name,
        log_group_arn=log_group.arn,
        key=key,
        physical_name=name,
        resource=function,
        log_group=log_group,
    )
