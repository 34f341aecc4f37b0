"""Lambda code signing: only a package signed by this environment's AWS Signer profile deploys.

The signed-artifact flow (PCI DSS 6.5.1; checkov CKV_AWS_272)::

    deterministic zip ──► artifacts bucket  unsigned/<sha256>.zip   (aws_s3_object, versioned)
                      ──► AWS Signer job    signed/<job id>.zip     (aws_signer_signing_job)
                      ──► both functions    s3_bucket/s3_key of the signed object, and a code signing
                                            config that *enforces* the profile: Lambda refuses any
                                            package this profile did not sign.

The bucket holds build artifacts only (never card data), yet gets the platform's defaults:
CMK encryption, versioning (Signer requires a versioned source), no public access, TLS-only,
old versions expiring. ``force_destroy`` keeps the environment destroyable.

The emulator (moto 5.2.5) implements neither Signer signing jobs nor Lambda code signing
configs, so the ``local`` environment sets ``code_signing = false`` and deploys the zip
directly; see README.md "Code signing".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from payments_platform.core import PluginContext, aws, keys

from .packaging import LambdaPackage

SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
# A signature older than this cannot be deployed: a leaked signed package stops being useful.
SIGNATURE_VALIDITY_MONTHS = 12
NONCURRENT_VERSION_DAYS = 30
UNSIGNED_PREFIX = "unsigned/"
SIGNED_PREFIX = "signed/"


@dataclass
class SignedCode:
    """What a function needs to run the signed package: pass as ``**function_code()``."""

    bucket: Any
    signing_job: Any
    code_signing_config: Any
    profile: Any

    def function_code(self) -> dict[str, Any]:
        signed = self.signing_job.signed_object.get(0).s3.get(0)
        return {
            "s3_bucket": signed.bucket,
            "s3_key": signed.key,
            "code_signing_config_arn": self.code_signing_config.arn,
        }


def create_signed_code(ctx: PluginContext, asset_path: str, package: LambdaPackage) -> SignedCode:
    scope = ctx.scope
    bucket = _artifacts_bucket(ctx)
    unsigned = aws.s3_object.S3Object(
        scope,
        "lambda_package_unsigned",
        bucket=bucket.id,
        key=f"{UNSIGNED_PREFIX}{package.sha256_hex}.zip",
        source=asset_path,
        source_hash=package.sha256_hex,
        kms_key_id=ctx[keys.KMS_KEY].arn,
        depends_on=[bucket.versioning, bucket.encryption],
    )
    # Signer profile names allow letters, digits and underscores only; a prefix, because a
    # cancelled profile's name cannot be used again (destroy, then deploy again).
    profile = aws.signer_signing_profile.SignerSigningProfile(
        scope,
        "signing_profile",
        name_prefix=f"payments_lambda_{ctx.environment.suffix.replace('-', '_')}_",
        platform_id=SIGNING_PLATFORM,
        signature_validity_period={"value": SIGNATURE_VALIDITY_MONTHS, "type": "MONTHS"},
    )
    job = aws.signer_signing_job.SignerSigningJob(
        scope,
        "signing_job",
        profile_name=profile.name,
        source={"s3": {"bucket": bucket.bucket.id, "key": unsigned.key, "version": unsigned.version_id}},
        destination={"s3": {"bucket": bucket.bucket.id, "prefix": SIGNED_PREFIX}},
        ignore_signing_job_failure=False,
    )
    config = aws.lambda_code_signing_config.LambdaCodeSigningConfig(
        scope,
        "code_signing_config",
        description=f"Payments functions ({ctx.environment.name}): only packages signed by this environment's profile",
        allowed_publishers={"signing_profile_version_arns": [profile.version_arn]},
        policies={"untrusted_artifact_on_deployment": "Enforce"},
    )
    return SignedCode(bucket.bucket, job, config, profile)


@dataclass
class _Bucket:
    bucket: Any
    versioning: Any
    encryption: Any

    @property
    def id(self) -> Any:
        return self.bucket.id


def _artifacts_bucket(ctx: PluginContext) -> _Bucket:
    scope = ctx.scope
    kms = ctx[keys.KMS_KEY]
    # Bucket names are global: the account id keeps two accounts' dev environments apart.
    bucket = aws.s3_bucket.S3Bucket(
        scope,
        "artifacts_bucket",
        bucket=f"{ctx.naming.name('payments-artifacts')}-{ctx.aws.account_id}",
        force_destroy=True,
    )
    versioning = aws.s3_bucket_versioning.S3BucketVersioningA(
        scope, "artifacts_versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}
    )
    # Blocks inside lists need their struct classes: a plain dict there is synthesized empty.
    sse = aws.s3_bucket_server_side_encryption_configuration
    encryption = sse.S3BucketServerSideEncryptionConfigurationA(
        scope,
        "artifacts_encryption",
        bucket=bucket.id,
        rule=[
            sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=sse.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                    sse_algorithm="aws:kms", kms_master_key_id=kms.arn
                ),
                bucket_key_enabled=True,
            )
        ],
    )
    aws.s3_bucket_public_access_block.S3BucketPublicAccessBlock(
        scope,
        "artifacts_public_access_block",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3_bucket_ownership_controls.S3BucketOwnershipControls(
        scope, "artifacts_ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}
    )
    lifecycle = aws.s3_bucket_lifecycle_configuration
    lifecycle.S3BucketLifecycleConfiguration(
        scope,
        "artifacts_lifecycle",
        bucket=bucket.id,
        rule=[
            lifecycle.S3BucketLifecycleConfigurationRule(
                id="expire-superseded-packages",
                status="Enabled",
                filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                noncurrent_version_expiration=[
                    lifecycle.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=NONCURRENT_VERSION_DAYS
                    )
                ],
                abort_incomplete_multipart_upload=[
                    lifecycle.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7)
                ],
            )
        ],
        depends_on=[versioning],
    )
    aws.s3_bucket_policy.S3BucketPolicy(
        scope,
        "artifacts_policy",
        bucket=bucket.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        # PCI DSS 4.2.1: nothing reaches the bucket without TLS.
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [bucket.arn, f"{bucket.arn}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    return _Bucket(bucket, versioning, encryption)
