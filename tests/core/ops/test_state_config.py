"""[environments.<env>.state]: strict validation, one line per mistake, one key per environment."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest

from payments_platform.core.errors import ConfigError
from payments_platform.core.host.config import load_config, parse_config

REPO = Path(__file__).resolve().parents[3]
STATE = {
    "bucket": "acme-payments-tfstate",
    "key_prefix": "payments-platform",
    "region": "us-east-1",
    "kms_key_id": "alias/payments-terraform-state",
}


def parse(**state_overrides):
    state = {**STATE, **state_overrides}
    state = {k: v for k, v in state.items() if v is not None}
    raw = {"defaults": {"plugins": ["storage"]}, "environments": {"dev": {"state": state}, "local": {}}}
    return parse_config(raw, Path("environments.toml"))


def test_state_table_becomes_backend_config_with_a_key_per_environment():
    env = parse().environment("dev")
    assert env.state is not None and env.state.bucket == "acme-payments-tfstate"
    assert env.state_key == "payments-platform/payments-dev/dev.tfstate"


def test_environment_without_state_table_keeps_local_state():
    assert parse().environment("local").state is None


def test_suffix_override_gets_its_own_state_key():
    config = parse()
    with mock.patch.dict(os.environ, {"ENVIRONMENT_SUFFIX": "pr-42"}):
        (env,) = config.select(["dev"])
    assert env.state_key == "payments-platform/payments-dev/pr-42.tfstate"
    assert env.state_key != config.environment("dev").state_key


@pytest.mark.parametrize(
    "override, message",
    [
        ({"bucket": "Acme_State"}, "bucket 'Acme_State' is not a valid S3 bucket name"),
        ({"bucket": "acme.state.bucket"}, "is not a valid S3 bucket name"),
        ({"key_prefix": "/payments"}, "key_prefix '/payments' must be path segments"),
        ({"key_prefix": "payments/"}, "key_prefix 'payments/' must be path segments"),
        ({"region": "europe"}, "region 'europe' is not an AWS region name"),
        ({"kms_key_id": "payments-key"}, "kms_key_id 'payments-key' must be 'alias/<name>' or a KMS key or alias ARN"),
        (
            {"kms_key_id": "arn:aws:kms:eu-west-1:123456789012:alias/state"},
            "kms_key_id is in eu-west-1 but the state bucket is in us-east-1",
        ),
        ({"bucket": None}, "missing key(s): bucket"),
        ({"encrypt": False}, "unknown key(s): encrypt"),
        ({"region": 5}, "region must be a string"),
    ],
)
def test_bad_state_setting_is_one_line_naming_it(override, message):
    with pytest.raises(ConfigError) as error:
        parse(**override)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert "[environments.dev] state" in str(error.value)


def test_key_arn_in_the_bucket_region_is_accepted():
    arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert parse(kms_key_id=arn).environment("dev").state.kms_key_id == arn


def test_state_in_defaults_is_refused_so_local_never_inherits_a_shared_bucket():
    raw = {"defaults": {"plugins": ["storage"], "state": STATE}, "environments": {"dev": {}}}
    with pytest.raises(ConfigError, match=r"\[defaults\]: unknown key\(s\): state"):
        parse_config(raw, Path("environments.toml"))


def test_environments_sharing_a_bucket_must_agree_on_its_key():
    raw = {
        "defaults": {"plugins": ["storage"]},
        "environments": {"dev": {"state": STATE}, "staging": {"state": {**STATE, "kms_key_id": "alias/other"}}},
    }
    with pytest.raises(ConfigError, match="share state bucket acme-payments-tfstate but not its region and kms_key_id"):
        parse_config(raw, Path("environments.toml"))


def test_checked_in_shared_environments_use_s3_state_and_local_does_not():
    config = load_config(REPO / "environments.toml")
    for name in ("dev", "staging", "prod"):
        assert config.environment(name).state is not None, name
    assert config.environment("local").state is None
    keys = {config.environment(n).state_key for n in ("dev", "staging", "prod")}
    assert len(keys) == 3
