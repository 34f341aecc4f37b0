"""Settings the observability plugin accepts (``[environments.<env>.settings.observability]``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from payments_platform.core import PluginSettings

# CloudWatch evaluates standard-resolution metrics in whole minutes; an alarm's
# period × evaluation periods may not exceed one day.
MINUTE = 60
DAY = 86_400


class ObservabilitySettings(PluginSettings):
    # Lambda Errors and API Gateway 5XXError alarm when the Sum over one period reaches this.
    error_threshold: int = Field(default=1, ge=1)
    alarm_period_seconds: int = Field(default=MINUTE, ge=MINUTE, le=DAY)

    @field_validator("alarm_period_seconds")
    @classmethod
    def _whole_minutes(cls, value: int) -> int:
        """a multiple of 60"""
        if value % MINUTE:
            raise ValueError(f"alarm_period_seconds must be a multiple of {MINUTE} (is {value})")
        return value
