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

from payments_platform.core import (
    BucketLifecycle,
    BuiltZip,
    HardenedBucket,
    PluginContext,
    aws,
    hardened_bucket,
    keys,
    sign_package,
)

SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
# A signature older than this cannot be deployed: a leaked signed package stops being useful.
SIGNATURE_VALIDITY_MONTHS = 12
NONCURRENT_VERSION_DAYS = 30


@dataclass
class SignedCode:
    """What a function needs to run the signed package (``code``), and the signer published with
    the runtime package so plugins' own packages are signed alike (core function_package)."""

    bucket: Any
    code: dict[str, Any]
    code_signing_config: Any
    profile: Any
    signer: keys.CodeSigner

    def function_code(self) -> dict[str, Any]:
        return dict(self.code)


def create_signed_code(ctx: PluginContext, asset_path: str, package: BuiltZip) -> SignedCode:
    scope = ctx.scope
    bucket = _artifacts_bucket(ctx)
    # Signer profile names allow letters, digits and underscores only; a prefix, because a
    # cancelled profile's name cannot be used again (destroy, then deploy again).
    profile = aws.signer_signing_profile.SignerSigningProfile(
        scope,
        "signing_profile",
        name_prefix=f"payments_lambda_{ctx.environment.suffix.replace('-', '_')}_",
        platform_id=SIGNING_PLATFORM,
        signature_validity_period={"value": SIGNATURE_VALIDITY_MONTHS, "type": "MONTHS"},
    )
    config = aws.lambda_code_signing_config.LambdaCodeSigningConfig(
        scope,
        "code_signing_config",
        description=f"Payments functions ({ctx.environment.name}): only packages signed by this environment's profile",
        allowed_publishers={"signing_profile_version_arns": [profile.version_arn]},
        policies={"untrusted_artifact_on_deployment": "Enforce"},
    )
    signer = keys.CodeSigner(
        bucket_name=bucket.id,
        profile_name=profile.name,
        code_signing_config_arn=config.arn,
        kms_key_arn=ctx[keys.KMS_KEY].arn,
        bucket_ready=(bucket.versioning, bucket.encryption),
    )
    # The construct ids the runtime's package had before core's sign_package: a new id would replace them.
    code = sign_package(
        ctx,
        "lambda_package",
        signer,
        asset_path,
        package.sha256_hex,
        unsigned_id="lambda_package_unsigned",
        job_id="signing_job",
    )
    return SignedCode(bucket.bucket, code, config, profile, signer)


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
