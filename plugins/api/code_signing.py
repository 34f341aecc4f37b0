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

from dataclasses import dataclass
from typing import Any

from payments_platform.core import BucketLifecycle, HardenedBucket, PluginContext, aws, hardened_bucket, keys

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


def _artifacts_bucket(ctx: PluginContext) -> HardenedBucket:
    # Bucket names are global: the account id keeps two accounts' dev environments apart.
    return hardened_bucket(
        ctx,
        "artifacts_bucket",
        name=f"{ctx.naming.name('payments-artifacts')}-{ctx.aws.account_id}",
        lifecycle=BucketLifecycle("expire-superseded-packages", noncurrent_version_days=NONCURRENT_VERSION_DAYS),
        force_destroy=True,
        # The ids this bucket had before the builder: a changed id would replace it.
        part_ids={
            "ownership": "artifacts_ownership",
            "public_access": "artifacts_public_access_block",
            "versioning": "artifacts_versioning",
            "encryption": "artifacts_encryption",
            "lifecycle": "artifacts_lifecycle",
            "policy": "artifacts_policy",
        },
        # Keeps this bucket's synth as it was before the builder (no ordering); safe to drop.
        policy_waits_for_public_access_block=False,
    )
