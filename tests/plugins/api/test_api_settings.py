"""Settings validation: a bad api setting fails before any construct, naming plugin and setting."""

from __future__ import annotations

import re

import pytest
from api_support import synth_api

from payments_platform.core.errors import ConfigError
from payments_platform.plugins.api.settings import ApiSettings


def test_memory_below_512_is_refused_naming_plugin_and_setting():
    with pytest.raises(ConfigError, match=r"plugin 'api', setting 'memory_mb'.*512"):
        synth_api({"memory_mb": 256}, cache=False)


@pytest.mark.parametrize(
    "settings,setting",
    [
        ({"reserved_concurrency": 0}, "reserved_concurrency"),
        ({"throttle_rate": 0}, "throttle_rate"),
        ({"throttle_burst": -1}, "throttle_burst"),
        ({"stage_name": "prod stage"}, "stage_name"),
        ({"logging_level": "DEBUG"}, "logging_level"),
        ({"clients": ["Checkout Web"]}, "clients"),
        ({"clients": ["web", "web"]}, "clients"),
        ({"timeout_seconds": 30}, "timeout_seconds"),
        ({"auth": "cognito"}, "auth"),
        ({"fingerprint_key_rotation_days": 0}, "fingerprint_key_rotation_days"),
        ({"fingerprint_key_rotation_days": 366}, "fingerprint_key_rotation_days"),
    ],
)
def test_invalid_setting_is_refused_with_its_name(settings, setting):
    with pytest.raises(ConfigError, match=rf"plugin 'api', setting '{re.escape(setting)}"):
        synth_api(settings, cache=False)


def test_api_key_auth_needs_at_least_one_client():
    with pytest.raises(ConfigError, match="plugin 'api'.*clients must name at least one client"):
        synth_api({"clients": []}, cache=False)


def test_iam_auth_needs_no_clients():
    assert ApiSettings(auth="iam", clients=()).api_clients == ()


def test_execution_logging_without_an_account_role_is_refused():
    with pytest.raises(
        ConfigError, match="plugin 'api'.*logging_level = 'INFO' needs the account's API Gateway CloudWatch role"
    ):
        synth_api({"logging_level": "INFO"}, cache=False)


def test_owning_and_borrowing_the_account_role_are_exclusive():
    with pytest.raises(ConfigError, match="exclusive"):
        synth_api({"manage_account_cloudwatch_role": True, "account_cloudwatch_role_exists": True}, cache=False)


@pytest.mark.parametrize(
    "settings,level",
    [
        ({}, "OFF"),
        ({"manage_account_cloudwatch_role": True}, "INFO"),
        ({"account_cloudwatch_role_exists": True}, "INFO"),
        ({"account_cloudwatch_role_exists": True, "logging_level": "ERROR"}, "ERROR"),
        ({"manage_account_cloudwatch_role": True, "logging_level": "OFF"}, "OFF"),
    ],
)
def test_execution_logging_level_follows_the_account_role(settings, level):
    assert ApiSettings.model_validate(settings).execution_logging_level == level


def test_defaults_match_the_platform_contract():
    settings = ApiSettings()
    assert (
        settings.auth,
        settings.stage_name,
        settings.memory_mb,
        settings.throttle_rate,
        settings.throttle_burst,
    ) == (
        "api_key",
        "prod",
        512,
        10000,
        5000,
    )
    assert settings.manage_account_cloudwatch_role is False


PLANNED = {"p99_ms": 250, "source": "BENCHMARKS.md"}


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"service_time": {"archiver": PLANNED}}, "service_time names ['archiver']"),
        ({"service_time": {"status-checker": {"p99_ms": 11000, "source": "x"}}}, "longer than the 10 s timeout"),
        ({"service_time": {"status-checker": {"p99_ms": 0, "source": "x"}}}, "service_time"),
        ({"service_time": {"status-checker": {"p99_ms": 100, "source": "a (b)"}}}, "a Lambda tag value"),
        ({"peak_rps": 10000, "reserved_concurrency": 5}, "peak_rps and reserved_concurrency are exclusive"),
        ({"peak_rps": 10000, "service_time": {"status-checker": PLANNED}}, "needs a planned p99 (service_time) for"),
        ({"client_share": 1.5}, "client_share"),
    ],
)
def test_an_incoherent_capacity_plan_is_refused_saying_why(settings, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        synth_api(settings, cache=False)
