"""waf plugin: a regional AWS WAFv2 web ACL in front of the payments API stage (PCI DSS 6.4.2).

resources: the web ACL (a per-IP rate rule, then the AWS managed Common and KnownBadInputs rule
groups; all count instead of block under ``count_only``), its association with the stage from
``keys.REST_API.stage_arn`` (a reference to the stage: Terraform creates it after the stage), its
log under the platform CMK, and through ``ctx.monitoring`` the alarm, the graphs and the archive.
"""

from __future__ import annotations

from typing import Any

from payments_platform.core import Metric, PluginContext, PluginDeclaration, aws, hookimpl, keys

from .settings import WafSettings

# (rule name, AWS managed rule group), evaluated in this order after the rate rule.
MANAGED_RULE_GROUPS = (
    ("aws-common", "AWSManagedRulesCommonRuleSet"),
    ("aws-known-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet"),
)
RATE_RULE = "per-ip-rate"
# WAF only logs to a CloudWatch log group whose name starts with this.
LOG_GROUP_PREFIX = "aws-waf-logs"
# PCI DSS 8.3.2: authentication factors never stored readable. WAF logs headers, never bodies,
# so the card data (only ever in the body) cannot reach this log.
REDACTED_HEADERS = ("authorization", "x-api-key")
NAMESPACE = "AWS/WAFV2"


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="waf",
        description="Regional WAFv2 web ACL on the API stage: AWS managed rules, per-IP rate limit, logs, alarm",
        requires=(keys.REST_API,),
        settings=WafSettings,
        emulated_services=("wafv2", "logs"),
        requires_api=">=1.0,<2",
    )


@hookimpl
def payments_resources(ctx: PluginContext) -> None:
    settings: WafSettings = ctx.settings
    name = ctx.naming.name("payments-api-waf")
    acl = aws.wafv2_web_acl.Wafv2WebAcl(
        ctx.scope,
        "web_acl",
        name=name,
        scope="REGIONAL",
        description="Filters requests to the payments API stage",
        default_action={"allow": {}},
        rule=[aws.wafv2_web_acl.Wafv2WebAclRule(**r) for r in web_acl_rules(settings)],
        visibility_config=_visibility(name),
        tags={"Name": name},
    )
    association = aws.wafv2_web_acl_association.Wafv2WebAclAssociation(
        ctx.scope, "web_acl_association", resource_arn=ctx[keys.REST_API].stage_arn, web_acl_arn=acl.arn
    )
    log_group_name = ctx.naming.name(f"{LOG_GROUP_PREFIX}-payments-api", kind="log_group")
    log_group = aws.cloudwatch_log_group.CloudwatchLogGroup(
        ctx.scope,
        "log_group",
        name=log_group_name,
        retention_in_days=settings.log_retention_days,
        kms_key_id=ctx[keys.KMS_KEY].arn,
    )
    logging_module = aws.wafv2_web_acl_logging_configuration
    logging = logging_module.Wafv2WebAclLoggingConfiguration(
        ctx.scope,
        "web_acl_logging",
        resource_arn=acl.arn,
        log_destination_configs=[log_group.arn],
        redacted_fields=[
            logging_module.Wafv2WebAclLoggingConfigurationRedactedFields(single_header={"name": h})
            for h in REDACTED_HEADERS
        ],
    )
    ctx.monitoring.log_group("waf", log_group_name=log_group.name, log_group_arn=log_group.arn)
    _observe(ctx, settings, name, log_group_name)
    ctx.compliance.evidence(
        "6.4.2",
        acl,
        attributes=("rule",),
        expect={"scope": "REGIONAL"},
        note="AWS managed Common and KnownBadInputs rule groups and a per-IP rate rule filter every request "
        "to the API stage" + (" -- in count-only mode: nothing is blocked" if settings.count_only else ""),
    )
    ctx.compliance.evidence(
        "6.4.2",
        association,
        attributes=("resource_arn", "web_acl_arn"),
        note="the web ACL is associated with the API stage",
    )
    ctx.compliance.evidence(
        "10.2",
        logging,
        attributes=("log_destination_configs", "redacted_fields"),
        note="every request WAF evaluates is logged, credential headers redacted",
    )


def web_acl_rules(settings: WafSettings) -> list[dict[str, Any]]:
    """The rules in priority order: the rate rule first, so it counts every request (a flood is
    cut before the managed groups spend capacity on it); ``count_only`` turns each action to count."""
    count = {"count": {}}
    rate = {
        "limit": settings.rate_limit,
        "aggregate_key_type": "IP",
        "evaluation_window_sec": settings.rate_window_seconds,
    }
    return [
        {
            "name": RATE_RULE,
            "priority": 0,
            "action": count if settings.count_only else {"block": {}},
            "statement": {"rate_based_statement": rate},
            "visibility_config": _visibility(RATE_RULE),
        },
    ] + [
        {
            "name": rule,
            "priority": priority,
            "override_action": count if settings.count_only else {"none": {}},
            "statement": {"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
            "visibility_config": _visibility(rule),
        }
        for priority, (rule, group) in enumerate(MANAGED_RULE_GROUPS, start=1)
    ]


def _visibility(metric_name: str) -> dict[str, Any]:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric_name, "sampled_requests_enabled": True}


def _observe(ctx: PluginContext, settings: WafSettings, acl_name: str, log_group_name: str) -> None:
    def metric(name: str, rule: str = "ALL", label: str = "") -> Metric:
        return Metric(
            NAMESPACE, name, {"WebACL": acl_name, "Region": ctx.aws.region, "Rule": rule}, label=label or name
        )

    rules = [RATE_RULE] + [rule for rule, _ in MANAGED_RULE_GROUPS]
    ctx.monitoring.metric_widget(
        "waf-requests",
        title=f"WAF {acl_name}: requests",
        metrics=[
            metric("AllowedRequests", label="allowed"),
            metric("BlockedRequests", label="blocked"),
            metric("CountedRequests", label="counted (would block outside count-only)"),
        ],
    )
    ctx.monitoring.metric_widget(
        "waf-rules",
        title=f"WAF {acl_name}: blocked and counted per rule",
        metrics=[
            metric(kind, rule, f"{rule} {kind.removesuffix('Requests').lower()}")
            for rule in rules
            for kind in ("BlockedRequests", "CountedRequests")
        ],
    )
    ctx.monitoring.alarm(
        "waf-blocked-requests",
        metric=metric("BlockedRequests"),
        threshold=settings.blocked_alarm_threshold,
        period_seconds=settings.alarm_period_seconds,
        description=(
            f"WAF web ACL {acl_name} blocked at least {settings.blocked_alarm_threshold} requests in "
            f"{settings.alarm_period_seconds} s: an attack, a misbehaving client or a rule blocking real traffic. "
            f"The per-rule graph on the payments dashboard names the rule; log group {log_group_name} holds the "
            f"requests (credentials redacted). For a false positive set count_only in the waf settings while tuning."
        ),
    )
