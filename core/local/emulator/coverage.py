"""What the emulator can deploy, as data: for each Terraform resource type, the AWS service and the
actions hashicorp/aws calls to create, read and delete it, checked against what moto implements.

moto publishes what it implements the way it dispatches: a request's action, in snake case, must be a
method of the service's ``responses`` class (``moto.core.utils.method_names_from_class``, used by
``BaseResponse.call_action``, which raises ``NotImplementedError`` for anything else). So the check
here asks moto itself, for the installed version. A resource type missing from ``PROVIDER_ACTIONS``
is reported as unknown rather than assumed to work.

``python -m payments_platform.core.local.emulator.coverage --write docs/LOCAL_DEPLOYMENT.md``
regenerates the table in the docs (a test fails while it is stale).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payments_platform.core.environment import EnvironmentConfig

# resource type → (moto service module, the provider's create / read / delete actions for it).
# Actions as the AWS API names them (hashicorp/aws 5.x: internal/service/<service>/<resource>.go).
PROVIDER_ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws_api_gateway_account": ("apigateway", ("UpdateAccount", "GetAccount")),
    "aws_api_gateway_api_key": ("apigateway", ("CreateApiKey", "GetApiKey", "DeleteApiKey")),
    "aws_api_gateway_deployment": ("apigateway", ("CreateDeployment", "GetDeployment", "DeleteDeployment")),
    "aws_api_gateway_gateway_response": (
        "apigateway",
        ("PutGatewayResponse", "GetGatewayResponse", "DeleteGatewayResponse"),
    ),
    "aws_api_gateway_integration": ("apigateway", ("PutIntegration", "GetIntegration", "DeleteIntegration")),
    "aws_api_gateway_integration_response": (
        "apigateway",
        ("PutIntegrationResponse", "GetIntegrationResponse", "DeleteIntegrationResponse"),
    ),
    "aws_api_gateway_method": ("apigateway", ("PutMethod", "GetMethod", "DeleteMethod")),
    "aws_api_gateway_method_response": (
        "apigateway",
        ("PutMethodResponse", "GetMethodResponse", "DeleteMethodResponse"),
    ),
    "aws_api_gateway_method_settings": ("apigateway", ("UpdateStage", "GetStage")),
    "aws_api_gateway_model": ("apigateway", ("CreateModel", "GetModel", "DeleteModel")),
    "aws_api_gateway_request_validator": (
        "apigateway",
        ("CreateRequestValidator", "GetRequestValidator", "DeleteRequestValidator"),
    ),
    "aws_api_gateway_resource": ("apigateway", ("CreateResource", "GetResource", "DeleteResource")),
    "aws_api_gateway_rest_api": ("apigateway", ("CreateRestApi", "GetRestApi", "DeleteRestApi")),
    "aws_api_gateway_stage": ("apigateway", ("CreateStage", "GetStage", "DeleteStage")),
    "aws_api_gateway_usage_plan": ("apigateway", ("CreateUsagePlan", "GetUsagePlan", "DeleteUsagePlan")),
    "aws_api_gateway_usage_plan_key": (
        "apigateway",
        ("CreateUsagePlanKey", "GetUsagePlanKey", "DeleteUsagePlanKey"),
    ),
    "aws_backup_plan": ("backup", ("CreateBackupPlan", "GetBackupPlan", "DeleteBackupPlan")),
    "aws_backup_selection": ("backup", ("CreateBackupSelection", "GetBackupSelection", "DeleteBackupSelection")),
    "aws_backup_vault": ("backup", ("CreateBackupVault", "DescribeBackupVault", "DeleteBackupVault")),
    "aws_cloudwatch_dashboard": ("cloudwatch", ("PutDashboard", "GetDashboard", "DeleteDashboards")),
    "aws_cloudwatch_log_group": ("logs", ("CreateLogGroup", "DescribeLogGroups", "DeleteLogGroup")),
    "aws_cloudwatch_log_subscription_filter": (
        "logs",
        ("PutSubscriptionFilter", "DescribeSubscriptionFilters", "DeleteSubscriptionFilter"),
    ),
    "aws_cloudwatch_metric_alarm": ("cloudwatch", ("PutMetricAlarm", "DescribeAlarms", "DeleteAlarms")),
    "aws_default_security_group": ("ec2", ("DescribeSecurityGroups", "RevokeSecurityGroupIngress")),
    "aws_dynamodb_table": ("dynamodb", ("CreateTable", "DescribeTable", "DeleteTable")),
    "aws_eip": ("ec2", ("AllocateAddress", "DescribeAddresses", "ReleaseAddress")),
    "aws_flow_log": ("ec2", ("CreateFlowLogs", "DescribeFlowLogs", "DeleteFlowLogs")),
    "aws_iam_role": ("iam", ("CreateRole", "GetRole", "DeleteRole")),
    "aws_iam_role_policy": ("iam", ("PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy")),
    "aws_internet_gateway": (
        "ec2",
        ("CreateInternetGateway", "AttachInternetGateway", "DescribeInternetGateways", "DeleteInternetGateway"),
    ),
    "aws_kinesis_firehose_delivery_stream": (
        "firehose",
        ("CreateDeliveryStream", "DescribeDeliveryStream", "DeleteDeliveryStream"),
    ),
    "aws_kms_alias": ("kms", ("CreateAlias", "ListAliases", "DeleteAlias")),
    "aws_kms_key": ("kms", ("CreateKey", "DescribeKey", "ScheduleKeyDeletion")),
    "aws_lambda_code_signing_config": (
        "awslambda",
        ("CreateCodeSigningConfig", "GetCodeSigningConfig", "DeleteCodeSigningConfig"),
    ),
    "aws_lambda_event_source_mapping": (
        "awslambda",
        ("CreateEventSourceMapping", "GetEventSourceMapping", "DeleteEventSourceMapping"),
    ),
    "aws_lambda_function": ("awslambda", ("CreateFunction", "GetFunction", "DeleteFunction")),
    "aws_lambda_permission": ("awslambda", ("AddPermission", "GetPolicy", "RemovePermission")),
    "aws_nat_gateway": ("ec2", ("CreateNatGateway", "DescribeNatGateways", "DeleteNatGateway")),
    "aws_route": ("ec2", ("CreateRoute", "DescribeRouteTables", "DeleteRoute")),
    "aws_route_table": ("ec2", ("CreateRouteTable", "DescribeRouteTables", "DeleteRouteTable")),
    "aws_route_table_association": (
        "ec2",
        ("AssociateRouteTable", "DescribeRouteTables", "DisassociateRouteTable"),
    ),
    "aws_s3_bucket": ("s3", ("CreateBucket", "HeadBucket", "DeleteBucket")),
    "aws_s3_bucket_lifecycle_configuration": (
        "s3",
        ("PutBucketLifecycleConfiguration", "GetBucketLifecycleConfiguration", "DeleteBucketLifecycle"),
    ),
    "aws_s3_bucket_ownership_controls": (
        "s3",
        ("PutBucketOwnershipControls", "GetBucketOwnershipControls", "DeleteBucketOwnershipControls"),
    ),
    "aws_s3_bucket_policy": ("s3", ("PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy")),
    "aws_s3_bucket_public_access_block": (
        "s3",
        ("PutPublicAccessBlock", "GetPublicAccessBlock", "DeletePublicAccessBlock"),
    ),
    "aws_s3_bucket_server_side_encryption_configuration": (
        "s3",
        ("PutBucketEncryption", "GetBucketEncryption", "DeleteBucketEncryption"),
    ),
    "aws_s3_bucket_versioning": ("s3", ("PutBucketVersioning", "GetBucketVersioning")),
    "aws_s3_object": ("s3", ("PutObject", "HeadObject", "DeleteObject")),
    "aws_scheduler_schedule": ("scheduler", ("CreateSchedule", "GetSchedule", "DeleteSchedule")),
    "aws_secretsmanager_secret": ("secretsmanager", ("CreateSecret", "DescribeSecret", "DeleteSecret")),
    "aws_secretsmanager_secret_rotation": ("secretsmanager", ("RotateSecret", "DescribeSecret", "CancelRotateSecret")),
    "aws_secretsmanager_secret_version": ("secretsmanager", ("PutSecretValue", "GetSecretValue")),
    "aws_security_group": ("ec2", ("CreateSecurityGroup", "DescribeSecurityGroups", "DeleteSecurityGroup")),
    "aws_signer_signing_job": ("signer", ("StartSigningJob", "DescribeSigningJob")),
    "aws_signer_signing_profile": ("signer", ("PutSigningProfile", "GetSigningProfile", "CancelSigningProfile")),
    "aws_sns_topic": ("sns", ("CreateTopic", "GetTopicAttributes", "DeleteTopic")),
    "aws_sns_topic_policy": ("sns", ("SetTopicAttributes", "GetTopicAttributes")),
    "aws_sns_topic_subscription": ("sns", ("Subscribe", "GetSubscriptionAttributes", "Unsubscribe")),
    "aws_sqs_queue": ("sqs", ("CreateQueue", "GetQueueAttributes", "DeleteQueue")),
    "aws_sqs_queue_policy": ("sqs", ("SetQueueAttributes", "GetQueueAttributes")),
    "aws_sqs_queue_redrive_policy": ("sqs", ("SetQueueAttributes", "GetQueueAttributes")),
    "aws_subnet": ("ec2", ("CreateSubnet", "DescribeSubnets", "DeleteSubnet")),
    "aws_vpc": ("ec2", ("CreateVpc", "DescribeVpcs", "DeleteVpc")),
    "aws_vpc_endpoint": ("ec2", ("CreateVpcEndpoint", "DescribeVpcEndpoints", "DeleteVpcEndpoints")),
    "aws_vpc_security_group_egress_rule": (
        "ec2",
        ("AuthorizeSecurityGroupEgress", "DescribeSecurityGroupRules", "RevokeSecurityGroupEgress"),
    ),
    "aws_vpc_security_group_ingress_rule": (
        "ec2",
        ("AuthorizeSecurityGroupIngress", "DescribeSecurityGroupRules", "RevokeSecurityGroupIngress"),
    ),
    "aws_wafv2_web_acl": ("wafv2", ("CreateWebACL", "GetWebACL", "DeleteWebACL")),
    "aws_wafv2_web_acl_association": (
        "wafv2",
        ("AssociateWebACL", "GetWebACLForResource", "DisassociateWebACL"),
    ),
    "aws_wafv2_web_acl_logging_configuration": (
        "wafv2",
        ("PutLoggingConfiguration", "GetLoggingConfiguration", "DeleteLoggingConfiguration"),
    ),
}

# moto's S3 dispatches a bucket's sub-resources by HTTP method and query string, not by action name:
# (the S3Response method that branches, the sub-resource key it looks for; None: the plain request).
S3_ROUTES: dict[str, tuple[str, str | None]] = {
    "CreateBucket": ("_bucket_response_put", None),
    "PutBucketLifecycleConfiguration": ("_bucket_response_put", "lifecycle"),
    "GetBucketLifecycleConfiguration": ("_bucket_response_get", "lifecycle"),
    "PutBucketOwnershipControls": ("_bucket_response_put", "ownershipControls"),
    "PutBucketPolicy": ("_bucket_response_put", "policy"),
    "PutPublicAccessBlock": ("_bucket_response_put", "publicAccessBlock"),
    "PutBucketEncryption": ("_bucket_response_put", "encryption"),
    "PutBucketVersioning": ("_bucket_response_put", "versioning"),
}

TABLE_BEGIN = "<!-- emulator coverage: begin (generated by core/local/emulator/coverage.py) -->"
TABLE_END = "<!-- emulator coverage: end -->"


def _snake(action: str) -> str:
    from moto.core.utils import camelcase_to_underscores

    return str(camelcase_to_underscores(action))


@functools.cache
def implemented_actions(service: str) -> frozenset[str]:
    """The snake-case actions moto's ``service`` dispatches (every method of its response classes)."""
    from moto.core.responses import BaseResponse
    from moto.core.utils import method_names_from_class

    module = importlib.import_module(f"moto.{service}.responses")
    names: set[str] = set()
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if issubclass(cls, BaseResponse) and cls is not BaseResponse:
            names.update(method_names_from_class(cls))
    return frozenset(names)


@dataclass(frozen=True)
class TypeCoverage:
    resource_type: str
    service: str | None  # None: not in PROVIDER_ACTIONS
    actions: tuple[str, ...]
    missing: tuple[str, ...]  # actions moto does not implement

    @property
    def deployable(self) -> bool:
        return self.service is not None and not self.missing


def _s3_routes(action: str) -> bool:
    from moto.s3.responses import S3Response

    method, key = S3_ROUTES[action]
    if not hasattr(S3Response, method):
        return False
    return key is None or f'"{key}" in querystring' in inspect.getsource(getattr(S3Response, method))


def is_implemented(service: str, action: str) -> bool:
    if _snake(action) in implemented_actions(service):
        return True
    return service == "s3" and action in S3_ROUTES and _s3_routes(action)


def type_coverage(resource_type: str) -> TypeCoverage:
    if resource_type not in PROVIDER_ACTIONS:
        return TypeCoverage(resource_type, None, (), ())
    service, actions = PROVIDER_ACTIONS[resource_type]
    return TypeCoverage(resource_type, service, actions, tuple(a for a in actions if not is_implemented(service, a)))


def types_calling(service_action: str) -> list[str]:
    """Resource types whose provider calls ``Action`` (any service) -- from the table."""
    return sorted(t for t, (_, actions) in PROVIDER_ACTIONS.items() if service_action in actions)


def _plugin_of(body: Mapping[str, Any]) -> str:
    parts = str(body.get("//", {}).get("metadata", {}).get("path", "")).split("/")
    return parts[1] if len(parts) > 1 and parts[1] not in ("", "platform") else "core"


def coverage_warnings(config: Mapping[str, Any]) -> list[str]:
    """One line per resource type of this stack the emulator cannot deploy (or that the table does
    not know), naming the plugins that create it and what to do."""
    lines = []
    for rtype, items in sorted((config.get("resource") or {}).items()):
        coverage = type_coverage(rtype)
        if coverage.deployable:
            continue
        plugins = ", ".join(sorted({_plugin_of(body) for body in items.values()}))
        if coverage.service is None:
            gap = "is not in the emulator's coverage table (core/local/emulator/coverage.py): whether it deploys is unknown"
        else:
            gap = (
                f"needs {coverage.service}:{', '.join(coverage.missing)}, which the emulator (moto) does not implement"
            )
        lines.append(
            f"[emulator] {rtype} (plugin {plugins}) {gap}; disable the plugin in this environment "
            "(`disable = [...]`) or teach the emulator (a moto patch in core/local/emulator)"
        )
    return lines


def emulator_gaps(environment: EnvironmentConfig, config: Mapping[str, Any]) -> list[str]:
    """A stack check for ``synthesize(stack_checks=...)``: in an emulator environment, what the
    emulator cannot deploy, named before terraform hangs on it."""
    return coverage_warnings(config) if environment.aws_endpoint else []


def markdown_table(resource_types: Iterable[str]) -> str:
    import moto

    rows = [
        f"moto {moto.__version__}: each resource type, the service and actions hashicorp/aws calls for it, "
        "and whether the emulator implements them.",
        "",
        "| Resource type | Service | Actions | Emulated |",
        "| --- | --- | --- | --- |",
    ]
    for rtype in sorted(set(resource_types)):
        c = type_coverage(rtype)
        verdict = "yes" if c.deployable else ("unknown" if c.service is None else f"**no**: {', '.join(c.missing)}")
        rows.append(f"| `{rtype}` | {c.service or '?'} | {', '.join(c.actions)} | {verdict} |")
    return "\n".join(rows)


def documented_types() -> list[str]:
    """Every type in the table: the platform's own, the waf extension's, and AWS Backup's as the
    known example of a gap."""
    return sorted(PROVIDER_ACTIONS)


def render_into(text: str) -> str:
    pattern = re.compile(re.escape(TABLE_BEGIN) + r".*?" + re.escape(TABLE_END), re.S)
    block = f"{TABLE_BEGIN}\n{markdown_table(documented_types())}\n{TABLE_END}"
    if not pattern.search(text):
        raise ValueError(f"no '{TABLE_BEGIN}' … '{TABLE_END}' block to fill")
    return pattern.sub(lambda _: block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", type=Path, help="fill the coverage block of this Markdown file")
    args = parser.parse_args(argv)
    if args.write is None:
        print(markdown_table(documented_types()))
        return 0
    args.write.write_text(render_into(args.write.read_text()))
    print(f"wrote the emulator coverage table into {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
