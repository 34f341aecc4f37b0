"""What the core itself contributes to every stack: provider, account facts, the CMK.

The KMS key policy is rendered at the end of the build, so plugins can add service
principals (``ctx.policy.allow_key_use``) during their phases.
"""

from __future__ import annotations

import json
from typing import Any

from .cdktf_adapter import Construct, LocalBackend, TerraformOutput, aws
from .config import EnvironmentConfig
from .context import AwsAccount, BuildContext, KeyPolicyStatement
from .keys import KmsKey

# AWS caps the pending-deletion window at 7..30 days; the platform must be destroyable fast.
KMS_DELETION_WINDOW_DAYS = 7


# Every service the platform's resources and data sources call, for a local emulator.
EMULATED_SERVICES = (
    "apigateway", "cloudwatch", "dynamodb", "ec2", "iam", "kms", "lambda", "logs",
    "scheduler", "secretsmanager", "sns", "sqs", "sts",
)


def create_provider(stack: Any, env: EnvironmentConfig) -> None:
    if env.aws_endpoint is None:
        aws.provider.AwsProvider(stack, "aws", region=env.regions.deploy)
    else:
        # A local emulator (moto server): fixed dummy credentials, every service at one URL.
        aws.provider.AwsProvider(
            stack,
            "aws",
            region=env.regions.deploy,
            access_key="emulator",
            secret_key="emulator",
            skip_credentials_validation=True,
            skip_metadata_api_check="true",
            skip_region_validation=True,
            endpoints=[{service: env.aws_endpoint for service in EMULATED_SERVICES}],
        )
    # Relative, so the synthesized config is identical on every machine.
    LocalBackend(stack, path=env.state_file)


def account_facts(scope: Construct, env: EnvironmentConfig) -> AwsAccount:
    identity = aws.data_aws_caller_identity.DataAwsCallerIdentity(scope, "caller")
    partition = aws.data_aws_partition.DataAwsPartition(scope, "partition")
    return AwsAccount(
        account_id=identity.account_id,
        partition=partition.partition,
        region=env.regions.deploy,
        service_region=env.regions.service,
    )


def create_platform_key(scope: Construct, build: BuildContext) -> tuple[KmsKey, Any]:
    name = build.naming.name("payments-key")
    key = aws.kms_key.KmsKey(
        scope,
        "platform_key",
        description=f"payments-platform customer-managed key ({build.environment.name})",
        enable_key_rotation=True,
        deletion_window_in_days=KMS_DELETION_WINDOW_DAYS,
        tags={"Name": name},
    )
    alias = aws.kms_alias.KmsAlias(scope, "platform_key_alias", name=f"alias/{name}", target_key_id=key.key_id)
    return KmsKey(arn=key.arn, key_id=key.key_id, alias_name=alias.name), key


def default_key_policy(build: BuildContext) -> list[KeyPolicyStatement]:
    a = build.aws
    root = f"arn:{a.partition}:iam::{a.account_id}:root"
    return [
        # AWS's default key policy statement: without it the key can become unmanageable.
        # "kms:*" / "*" here mean "this key" for the account's administrators (IAM still applies).
        KeyPolicyStatement(
            "EnableAccountAdministration",
            {
                "Sid": "EnableAccountAdministration",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            "core",
        ),
        # CloudWatch Logs encrypts the platform's log groups (function, access and flow logs).
        KeyPolicyStatement(
            "AllowCloudWatchLogs",
            {
                "Sid": "AllowCloudWatchLogs",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{a.region}.amazonaws.com"},
                "Action": [
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{a.partition}:logs:{a.region}:{a.account_id}:log-group:*"
                    }
                },
            },
            "core",
        ),
    ]


def render_key_policy(key: Any, build: BuildContext) -> None:
    statements = default_key_policy(build) + sorted(build.key_policy, key=lambda s: s.sid)
    key.policy = json.dumps({"Version": "2012-10-17", "Statement": [s.statement for s in statements]})


def create_role(scope: Construct, key: str, name: str, service: str, description: str) -> tuple[Any, Any]:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    role = aws.iam_role.IamRole(
        scope,
        f"role_{key}",
        name=name,
        description=description,
        assume_role_policy=json.dumps(trust),
        force_detach_policies=True,
    )
    # Created now so functions can depend on it (a VPC Lambda whose role may not yet create
    # ENIs is rejected by AWS); the document is rendered once every grant is known.
    policy = aws.iam_role_policy.IamRolePolicy(
        scope, f"role_{key}_policy", name=f"{name}-policy", role=role.id, policy="{}"
    )
    return role, policy


def render_role_policies(build: BuildContext) -> None:
    for role in build.roles.roles():
        if role.statements:
            role.policy.policy = role.policy_document()
        else:  # an empty policy document is invalid in IAM
            role.policy.node.scope.node.try_remove_child(role.policy.node.id)


def render_outputs(build: BuildContext) -> None:
    for name in sorted(build.outputs):
        output = build.outputs[name]
        TerraformOutput(
            build.stack, name, value=output.value, description=output.description, sensitive=output.sensitive
        )
