"""Settings the waf plugin accepts (``[environments.<env>.settings.waf]``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from payments_platform.core import LogRetentionDays, PluginSettings


class WafSettings(PluginSettings):
    """``rate_limit``: requests one client IP may send in ``rate_window_seconds`` before the
    rate rule acts (WAF accepts 10 to 2·10⁹, over a 60/120/300/600 s window). ``count_only``:
    every rule counts instead of blocking -- for tuning a new rule set against real traffic.
    ``log_retention_days``: how long CloudWatch keeps the WAF log (a year by default, PCI DSS
    10.5.1). ``blocked_alarm_threshold``: blocked requests per ``alarm_period_seconds`` that page."""

    rate_limit: int = Field(default=2000, ge=10, le=2_000_000_000)
    rate_window_seconds: Literal[60, 120, 300, 600] = 300
    count_only: bool = False
    log_retention_days: LogRetentionDays = 365
    blocked_alarm_threshold: int = Field(default=100, ge=1)
    alarm_period_seconds: Literal[60, 300, 900, 3600] = 300
