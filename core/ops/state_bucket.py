"""The stack that holds every other stack's state: an S3 bucket and its KMS key.

Chicken and egg: this stack cannot keep its state in the bucket it creates, so its own state
is a local file beside the synth output (``terraform.state-<bucket>.tfstate``). It holds only
names, ARNs and policies — no secret — and nothing breaks while it is missing; keep it with
the operations team's records. Environments sharing a bucket share this one stack.
"""

from __future__ import annotations

import json
from typing import Any

from payments_platform.core.cdktf_adapter import LocalBackend, TerraformOutput, TerraformStack, aws
from payments_platform.core.host import foundation
from payments_platform.core.host.config import EnvironmentConfig, StateBackendConfig

# The state keeps every earlier version (restorable after a bad apply) for this long.
NONCURRENT_VERSION_DAYS = 90
# A deleted state key must be recoverable for the longest window AWS allows.
STATE_KEY_DELETION_WINDOW_DAYS = 30


def stack_name(state: StateBackendConfig) -> str:
    return f"state-{state.bucket}"


def state_file(state: StateBackendConfig) -> str:
    """Relative to <out>/stacks/<stack>/: beside the output directory, like the platform's local state."""
    return f"../../../terraform.{stack_name(state)}.tfstate"


def build_state_bucket_stack(app: Any, env: EnvironmentConfig) -> Any:
    state = env.state
    assert state is not None and state.kms_key_id.startswith("alias/")
    stack = TerraformStack(app, stack_name(state))
    foundation.aws_provider(stack, env, region=state.region, emulated_services=("s3",))
    LocalBackend(stack, path=state_file(state))
    tags = {
        "platform": "payments-platform",
        "purpose": "terraform-state",
        "managed-by": "payments-platform state bootstrap",
    }
    account = foundation.account_facts(stack, env)
    root = f"arn:{account.partition}:iam::{account.account_id}:root"

    # PCI DSS 3.5/3.6: the state holds the card-fingerprint secret; a customer-managed,
    # rotated key whose use IAM policies grant per role.
    key = aws.kms_key.KmsKey(
        stack,
        "state_key",
        description=f"Terraform state of payments-platform ({state.bucket})",
        enable_key_rotation=True,
        deletion_window_in_days=STATE_KEY_DELETION_WINDOW_DAYS,
        policy=json.dumps({"Version": "2012-10-17", "Statement": [foundation.account_administration(root)]}),
        tags=tags,
        lifecycle={"prevent_destroy": True},
    )
    aws.kms_alias.KmsAlias(stack, "state_key_alias", name=state.kms_key_id, target_key_id=key.key_id)

    bucket = aws.s3_bucket.S3Bucket(
        stack, "state_bucket", bucket=state.bucket, tags=tags, lifecycle={"prevent_destroy": True}
    )
    ownership = aws.s3_bucket_ownership_controls
    ownership.S3BucketOwnershipControls(
        stack,
        "state_bucket_ownership",
        bucket=bucket.id,
        rule=ownership.S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
    )
    aws.s3_bucket_public_access_block.S3BucketPublicAccessBlock(
        stack,
        "state_bucket_public_access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    versioning = aws.s3_bucket_versioning
    versioning.S3BucketVersioningA(
        stack,
        "state_bucket_versioning",
        bucket=bucket.id,
        versioning_configuration=versioning.S3BucketVersioningVersioningConfiguration(status="Enabled"),
    )
    encryption = aws.s3_bucket_server_side_encryption_configuration
    encryption.S3BucketServerSideEncryptionConfigurationA(
        stack,
        "state_bucket_encryption",
        bucket=bucket.id,
        rule=[
            encryption.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=encryption.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                    sse_algorithm="aws:kms", kms_master_key_id=key.arn
                ),
                bucket_key_enabled=True,
            )
        ],
    )
    lifecycle = aws.s3_bucket_lifecycle_configuration
    lifecycle.S3BucketLifecycleConfiguration(
        stack,
        "state_bucket_lifecycle",
        bucket=bucket.id,
        rule=[
            lifecycle.S3BucketLifecycleConfigurationRule(
                id="expire-noncurrent-state-versions",
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
    )
    aws.s3_bucket_policy.S3BucketPolicy(
        stack, "state_bucket_policy", bucket=bucket.id, policy=bucket_policy(bucket.arn)
    )
    TerraformOutput(stack, "state_bucket_arn", value=bucket.arn)
    TerraformOutput(stack, "state_key_arn", value=key.arn)
    return stack


def bucket_policy(bucket_arn: str) -> str:
    objects = f"{bucket_arn}/*"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {  # PCI DSS 4.2.1: state travels only over TLS.
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, objects],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {  # PCI DSS 3.5.1: no object lands unencrypted by KMS (terraform's `encrypt` sends the header
                    # for the state and its lockfile).
                    "Sid": "DenyUnencryptedObjectUploads",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": objects,
                    "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
                },
            ],
        }
    )
