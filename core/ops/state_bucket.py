"""The stack that holds every other stack's state: an S3 bucket and its KMS key.

Chicken and egg: this stack cannot keep its state in the bucket it creates, so its own state
is a local file beside the synth output (``terraform.state-<bucket>.tfstate``). It holds only
names, ARNs and policies — no secret — and nothing breaks while it is missing; keep it with
the operations team's records. Environments sharing a bucket share this one stack.
"""

from __future__ import annotations

import json
from typing import Any

from payments_platform.core.builders import BucketLifecycle, bucket_in_scope, deny_unencrypted_uploads
from payments_platform.core.cdktf_adapter import LocalBackend, TerraformOutput, TerraformStack, aws
from payments_platform.core.environment import EnvironmentConfig, StateBackendConfig
from payments_platform.core.host import foundation

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

    # Outside any plugin's build: the builder's scope form.
    bucket = bucket_in_scope(
        stack,
        "state_bucket",
        name=state.bucket,
        kms_key_arn=key.arn,
        lifecycle=BucketLifecycle("expire-noncurrent-state-versions", noncurrent_version_days=NONCURRENT_VERSION_DAYS),
        policy_statements=encrypted_uploads_only,
        tags=tags,
        prevent_destroy=True,
    )
    TerraformOutput(stack, "state_bucket_arn", value=bucket.arn)
    TerraformOutput(stack, "state_key_arn", value=key.arn)
    return stack


def encrypted_uploads_only(bucket_arn: str) -> list[dict[str, Any]]:
    # Terraform's `encrypt` sends the header for the state and its lockfile.
    return [deny_unencrypted_uploads(bucket_arn)]
