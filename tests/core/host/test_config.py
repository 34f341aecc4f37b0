from pathlib import Path

import pytest

from payments_platform.core.environment import RegionPlan
from payments_platform.core.errors import ConfigError
from payments_platform.core.host.config import load_config, parse_config

REPO = Path(__file__).resolve().parents[3]


def parse(raw: dict):
    return parse_config(raw, Path("environments.toml"))


def minimal(**env) -> dict:
    return {"defaults": {"plugins": ["network"]}, "environments": {"dev": {"suffix": "dev", **env}}}


def test_checked_in_config_defines_dev_staging_and_prod():
    config = load_config(REPO / "environments.toml")
    assert {"dev", "staging", "prod"} <= set(config.environments)
    assert config.default_environment == "dev"


def test_environment_settings_merge_over_defaults():
    raw = minimal(settings={"network": {"availability_zones": 3}})
    raw["defaults"]["settings"] = {"network": {"vpc_cidr": "10.1.0.0/16", "availability_zones": 2}}
    env = parse(raw).environment("dev")
    assert env.plugin_settings("network") == {"vpc_cidr": "10.1.0.0/16", "availability_zones": 3}


@pytest.mark.parametrize("suffix", ["Dev", "dev_1", "-dev", "dev-", "a" * 21, "", "dév"])
def test_unsafe_suffix_is_rejected(suffix):
    with pytest.raises(ConfigError, match="suffix"):
        parse(minimal(suffix=suffix))


def test_unknown_environment_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown environment 'qa' \(known: dev\)"):
        parse(minimal()).environment("qa")


def test_unknown_environment_key_is_rejected():
    with pytest.raises(ConfigError, match="unknown key.*pluginz"):
        parse(minimal(pluginz=["x"]))


def test_wrong_type_for_plugins_is_rejected():
    with pytest.raises(ConfigError, match="'plugins' must be a list"):
        parse(minimal(plugins="network"))


def test_two_environments_cannot_share_a_suffix():
    raw = minimal()
    raw["environments"]["qa"] = {"suffix": "dev"}
    with pytest.raises(ConfigError, match="share suffix 'dev'"):
        parse(raw)


def test_invalid_region_is_rejected():
    with pytest.raises(ConfigError, match="not an AWS region"):
        parse(minimal(region="mars-1"))


def test_invalid_toml_is_one_clear_error(tmp_path):
    bad = tmp_path / "environments.toml"
    bad.write_text("[environments.dev\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)


def test_environment_suffix_variable_overrides_the_selected_environment(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT_SUFFIX", "pr123")
    (env,) = parse(minimal()).select(["dev"])
    assert env.suffix == "pr123"


def test_environment_suffix_variable_is_validated(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT_SUFFIX", "PR_123")
    with pytest.raises(ConfigError, match="ENVIRONMENT_SUFFIX"):
        parse(minimal()).select(["dev"])


def test_environment_suffix_variable_refuses_several_environments(monkeypatch):
    raw = minimal()
    raw["environments"]["qa"] = {"suffix": "qa"}
    monkeypatch.setenv("ENVIRONMENT_SUFFIX", "pr1")
    with pytest.raises(ConfigError, match="2 were selected"):
        parse(raw).select(["dev", "qa"])


def test_deploy_region_defaults_to_us_east_1():
    assert RegionPlan(None).deploy == "us-east-1"


def test_service_region_falls_back_to_eu_central_1_when_none_is_configured():
    assert RegionPlan(None).service == "eu-central-1"


def test_configured_region_is_used_for_deploy_and_services():
    plan = RegionPlan("ap-southeast-2")
    assert (plan.deploy, plan.service) == ("ap-southeast-2", "ap-southeast-2")
