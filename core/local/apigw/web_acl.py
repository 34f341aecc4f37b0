"""The WAF web ACL associated with the deployed stage, as far as the local gateway can honour it.

Read back from the emulator (``GetWebACLForResource`` on the stage's ARN), never from the Python
that generated the Terraform. What a machine without AWS can reproduce faithfully is a per-IP
rate-based rule: :class:`RateLimiter` counts each client IP's requests over the rule's
evaluation window and answers as API Gateway does when WAF blocks (``WAF_FILTERED``, 403); a
rule whose action is Count only counts. AWS managed rule groups are AWS's own, unpublished
signatures: they are listed as not emulated, and a request they would block passes here.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from payments_platform.core.errors import PlatformError


class DeployedWebAclError(PlatformError):
    """The web ACL uses something the local gateway cannot serve faithfully."""


@dataclass(frozen=True)
class RateRule:
    name: str
    priority: int
    limit: int  # requests per client IP per window
    window_seconds: int
    blocks: bool  # False: the rule's action is Count


@dataclass(frozen=True)
class DeployedWebAcl:
    name: str
    arn: str
    rate_rules: tuple[RateRule, ...]  # by priority
    not_emulated: tuple[str, ...] = ()  # rules a request passes here whatever it holds


def stage_arn(region: str, api_id: str, stage: str) -> str:
    return f"arn:aws:apigateway:{region}::/restapis/{api_id}/stages/{stage}"


def read_web_acl(wafv2: Any, resource_arn: str) -> DeployedWebAcl | None:
    """The web ACL associated with ``resource_arn`` (a stage ARN), or None without one."""
    body = wafv2.get_web_acl_for_resource(ResourceArn=resource_arn).get("WebACL")
    if not body:
        return None
    if "Allow" not in (body.get("DefaultAction") or {}):
        raise DeployedWebAclError(f"web ACL {body['Name']}: only a default action of Allow is served locally")
    rate_rules, not_emulated = [], []
    for rule in sorted(body.get("Rules") or [], key=lambda r: r["Priority"]):
        rate = (rule.get("Statement") or {}).get("RateBasedStatement")
        action = rule.get("Action") or {}
        per_ip = rate and rate.get("AggregateKeyType") == "IP" and not rate.get("ScopeDownStatement")
        if per_ip and set(action) & {"Block", "Count"}:
            rate_rules.append(
                RateRule(
                    name=rule["Name"],
                    priority=rule["Priority"],
                    limit=int(rate["Limit"]),
                    window_seconds=int(rate.get("EvaluationWindowSec") or 300),
                    blocks="Block" in action,
                )
            )
        else:
            not_emulated.append(rule["Name"])
    return DeployedWebAcl(body["Name"], body["ARN"], tuple(rate_rules), tuple(not_emulated))


class RateLimiter:
    """Per-IP sliding windows, one per rate rule, evaluated in priority order as WAF does: the
    first rule that blocks ends the evaluation (later rules neither see nor count the request)."""

    def __init__(self, acl: DeployedWebAcl, clock: Callable[[], float] = time.monotonic) -> None:
        self.acl = acl
        self._clock = clock
        # rule → ip → arrival times inside the window (at most limit + 1 kept: enough to decide).
        self._seen: dict[str, dict[str, collections.deque[float]]] = {r.name: {} for r in acl.rate_rules}

    def blocking_rule(self, client_ip: str) -> str | None:
        """Count this request; the name of the rule that blocks it, or None when it passes."""
        now = self._clock()
        for rule in self.acl.rate_rules:
            window = self._seen[rule.name].setdefault(client_ip, collections.deque(maxlen=rule.limit + 1))
            while window and window[0] <= now - rule.window_seconds:
                window.popleft()
            window.append(now)
            if len(window) > rule.limit and rule.blocks:
                return rule.name
        return None

    def describe(self) -> Mapping[str, Any]:
        return {
            "web_acl": self.acl.name,
            "emulated": [
                f"{r.name} ({r.limit}/{r.window_seconds}s per IP, {'block' if r.blocks else 'count'})"
                for r in self.acl.rate_rules
            ],
            "not_emulated": list(self.acl.not_emulated),
        }
