"""What of the platform is still in the emulator: after ``local down`` destroys it, nothing may be."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payments_platform.core.local.emulator.function_identities import USER_PREFIX

Client = Callable[[str], Any]


def _platform_keys(client: Client) -> list[str]:
    kms = client("kms")
    described = [kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"] for key in kms.list_keys()["Keys"]]
    # KMS keys are never deleted at once: the platform schedules deletion (7 days), as on AWS.
    return [
        key["KeyId"]
        for key in described
        if key.get("Description", "").startswith("payments-platform customer-managed key")
        and key["KeyState"] != "PendingDeletion"
    ]


CHECKS: dict[str, Callable[[Client, str], list[str]]] = {
    "tables": lambda c, s: c("dynamodb").list_tables()["TableNames"],
    "queues": lambda c, s: c("sqs").list_queues().get("QueueUrls", []),
    "topics": lambda c, s: [t["TopicArn"] for t in c("sns").list_topics()["Topics"]],
    "functions": lambda c, s: [f["FunctionName"] for f in c("lambda").list_functions()["Functions"]],
    "log groups": lambda c, s: [g["logGroupName"] for g in c("logs").describe_log_groups()["logGroups"]],
    "rest apis": lambda c, s: [a["name"] for a in c("apigateway").get_rest_apis()["items"]],
    "api keys": lambda c, s: [k["name"] for k in c("apigateway").get_api_keys()["items"]],
    "secrets": lambda c, s: [x["Name"] for x in c("secretsmanager").list_secrets()["SecretList"]],
    "vpcs": lambda c, s: [v["VpcId"] for v in c("ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")],
    # Deleted endpoints stay listed for a while, in state "deleted" (on AWS too).
    "vpc endpoints": lambda c, s: [
        e["VpcEndpointId"] for e in c("ec2").describe_vpc_endpoints()["VpcEndpoints"] if e["State"] != "deleted"
    ],
    "roles": lambda c, s: [r["RoleName"] for r in c("iam").list_roles()["Roles"] if r["RoleName"].endswith(f"-{s}")],
    "function identities": lambda c, s: [
        u["UserName"] for u in c("iam").list_users()["Users"] if u["UserName"].startswith(USER_PREFIX)
    ],
    "alarms": lambda c, s: [a["AlarmName"] for a in c("cloudwatch").describe_alarms()["MetricAlarms"]],
    "dashboards": lambda c, s: [d["DashboardName"] for d in c("cloudwatch").list_dashboards()["DashboardEntries"]],
    "web acls": lambda c, s: [a["Name"] for a in c("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"]],
    "keys": lambda c, s: _platform_keys(c),
}


def leftovers(client: Client, suffix: str) -> dict[str, list[str]]:
    """Each kind of platform resource still present, with what is left of it (empty: none)."""
    return {kind: found for kind, check in CHECKS.items() if (found := check(client, suffix))}
