"""A settings error names the setting(s) it is about, in the validator's own words."""

from __future__ import annotations

import pytest
from pydantic import Field, model_validator

from payments_platform.core import ConfigError, LogRetentionDays, PluginDeclaration, PluginSettings
from payments_platform.core.host.builder import validate_settings
from payments_platform.core.testing import make_environment


class BackupSettings(PluginSettings):
    retention_days: LogRetentionDays = 90
    monthly_retention_days: int = Field(default=400, ge=1)

    @model_validator(mode="after")
    def _monthly_outlives_daily(self) -> BackupSettings:
        if self.monthly_retention_days < self.retention_days:
            raise ValueError(
                f"monthly_retention_days ({self.monthly_retention_days}) is shorter than "
                f"retention_days ({self.retention_days})"
            )
        return self


DECLARATION = PluginDeclaration(name="backup", description="d", settings=BackupSettings)


def refusal(settings: dict) -> str:
    env = make_environment(["backup"], name="prod", settings={"backup": settings})
    with pytest.raises(ConfigError) as refused:
        validate_settings(env, DECLARATION)
    return str(refused.value)


def test_cross_field_error_names_both_fields_without_pydantics_prefix():
    assert refusal({"monthly_retention_days": 60}) == (
        "environment 'prod', plugin 'backup', settings 'retention_days' and 'monthly_retention_days': "
        "monthly_retention_days (60) is shorter than retention_days (90)"
    )


def test_field_validator_error_keeps_the_setting_and_the_value_given():
    assert refusal({"retention_days": 42}).startswith(
        "environment 'prod', plugin 'backup', setting 'retention_days': 42 is not a CloudWatch Logs retention period"
    )
