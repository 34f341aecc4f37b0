"""What the core itself contributes to every stack: provider, account facts, the CMK.

The KMS key policy is rendered at the end of the build, so plugins can add service
principals (``ctx.policy.allow_key_use``) during their phases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from payments_platform.core.cdktf_adapter import Construct, TerraformOutput, aws, terraform_reference
from payments_platform.core.context import CORE, AwsAccount, BuildContext, KeyPolicyStatement
from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.evidence import PluginCompliance
from payments_platform.core.host.emulator_identity import EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY
from payments_platform.core.host.emulator_profile import profile_provider_arguments
from payments_platform.core.host.key_policy_cycles import refuse_key_policy_cycles
from payments_platform.core.host.state_backend import add_state_backend
from payments_platform.core.keys import KmsKey

# AWS caps the pending-deletion window at 7..30 days; the platform must be destroyable fast.
KMS_DELETION_WINDOW_DAYS = 7


# What the core itself calls, for a local emulator: IAM (every plugin's roles come from the role
# registry), KMS (the platform key), STS (the caller identity). Each enabled plugin adds the
# services its own resources call (PluginDeclaration.emulated_services).
EMULATED_SERVICES = ("iam", "kms", "sts")


def create_provider(stack: Any, env: EnvironmentConfig, *, emulated_services: Sequence[str] = ()) -> None:
    aws_provider(stack, env, emulated_services=emulated_services)
    add_state_backend(stack, env)


def aws_provider(
    stack: Any, env: EnvironmentConfig, region: str | None = None, *, emulated_services: Sequence[str] = ()
) -> None:
    """The AWS provider in ``region`` (default: the environment's), or on the environment's
    emulator, which then also serves ``emulated_services`` (the enabled plugins')."""
    region = region or env.regions.deploy
    if env.aws_endpoint is None:
        aws.provider.AwsProvider(stack, "aws", region=region)
    else:
        # A local emulator (moto server): fixed dummy credentials, every service at one URL -- named
        # in an SDK profile when it can be (emulator_profile: the endpoints block costs seconds per walk).
        services = sorted({*EMULATED_SERVICES, *emulated_services})
        routing = profile_provider_arguments(stack, env.aws_endpoint, services) or {
            "endpoints": [{service: env.aws_endpoint for service in services}]
        }
        aws.provider.AwsProvider(
            stack,
            "aws",
            region=region,
            access_key=EMULATOR_ACCESS_KEY_ID,
            secret_key=EMULATOR_SECRET_ACCESS_KEY,
            skip_credentials_validation=True,
            skip_metadata_api_check="true",
            skip_region_validation=True,
            # moto serves buckets by path, not by virtual host.
            s3_use_path_style=True,
            **routing,
        )


def account_facts(scope: Construct, env: EnvironmentConfig) -> AwsAccount:
    identity = aws.data_aws_caller_identity.DataAwsCallerIdentity(scope, "caller")
    partition = aws.data_aws_partition.DataAwsPartition(scope, "partition")
    return AwsAccount(
        account_id=identity.account_id,
        partition=partition.partition,
        region=env.regions.deploy,
        service_region=env.regions.service,
        caller_arn=identity.arn,
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
    return KmsKey(arn=key.arn, key_id=key.key_id, alias_name=alias.name, region=build.aws.region), key


def account_administration(root: str) -> dict[str, Any]:
    """AWS's default key policy statement: without it a key can become unmanageable.
    "kms:*" / "*" here mean "this key" for the account's administrators (IAM still applies)."""
    return {
        "Sid": "EnableAccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": "kms:*",
        "Resource": "*",
    }


def default_key_policy(build: BuildContext) -> list[KeyPolicyStatement]:
    a = build.aws
    root = f"arn:{a.partition}:iam::{a.account_id}:root"
    return [
        KeyPolicyStatement("EnableAccountAdministration", account_administration(root), "core"),
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
    refuse_key_policy_cycles(
        build.stack.to_terraform(),
        f"{key.terraform_resource_type}.{key.friendly_unique_id}",
        build.key_policy,
        lambda text: terraform_reference(build.stack, text),
    )
    statements = default_key_policy(build) + sorted(build.key_policy, key=lambda s: s.sid)
    key.policy = json.dumps({"Version": "2012-10-17", "Statement": [s.statement for s in statements]})
    evidence = PluginCompliance(build.controls, CORE)
    evidence.evidence(
        "3.6",
        key,
        attributes=("policy",),
        expect={"deletion_window_in_days": KMS_DELETION_WINDOW_DAYS},
        note="one customer-managed key; its explicit key policy names each service principal plugins allowed "
        "(ctx.policy.allow_key_use), each scoped to the account",
    )
    evidence.evidence(
        "3.7.4",
        key,
        expect={"enable_key_rotation": True},
        note="KMS rotates the key material every year; old material stays available to decrypt",
    )


def create_role(
    scope: Construct,
    key: str,
    name: str,
    service: str,
    description: str,
    trust_conditions: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if trust_conditions:  # e.g. confused-deputy guards: only on this account's behalf
        statement["Condition"] = trust_conditions
    trust = {"Version": "2012-10-17", "Statement": [statement]}
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
    evidence = PluginCompliance(build.controls, CORE)
    for role in build.roles.roles():
        if role.statements:
            role.policy.policy = role.policy_document()
            evidence.evidence(
                "7.2",
                role.policy,
                attributes=("role", "policy"),
                note=f"role '{role.key}' (plugin '{role.owner}'): one inline policy listing only the actions and "
                "resources its code calls; wildcard actions fail synth (PP-IAM-LEAST-PRIVILEGE)",
            )
        else:  # an empty policy document is invalid in IAM
            role.policy.node.scope.node.try_remove_child(role.policy.node.id)


def render_outputs(build: BuildContext) -> None:
    for name in sorted(build.outputs):
        output = build.outputs[name]
        TerraformOutput(
            build.stack, name, value=output.value, description=output.description, sensitive=output.sensitive
        )
