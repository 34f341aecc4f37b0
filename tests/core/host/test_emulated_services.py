"""PluginDeclaration.emulated_services: what an enabled plugin needs from the local emulator."""

from __future__ import annotations

import configparser
import dataclasses
import json
from pathlib import Path

import pytest

from payments_platform.core import PluginDeclaration, hookimpl
from payments_platform.core.errors import PluginLoadError
from payments_platform.core.host.emulator_profile import PROFILE, sdk_service_key
from payments_platform.core.host.foundation import EMULATED_SERVICES
from payments_platform.core.host.plugin_manager import PlatformPluginManager, in_process_source
from payments_platform.core.host.provider_endpoints import provider_endpoint_services
from payments_platform.core.host.synth import synthesize
from payments_platform.core.testing import make_environment, synth

EMULATOR = "http://127.0.0.1:4566"


class NeedsServices:
    def __init__(self, name: str, services: object) -> None:
        self.name, self.services = name, services

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name=self.name, description="declares emulated services", emulated_services=self.services
        )


FIREWALL = NeedsServices("firewall", ("wafv2",))


def endpoints(env, tmp_path: Path, extra_plugins=None) -> dict[str, str]:
    """What the synthesized provider sends to which URL, keyed by the SDK's service id: read from
    the stack directory as Terraform reads it (the profile file the provider names)."""
    synthesize([env], tmp_path / "out", extra_plugins=extra_plugins)
    (stack_dir,) = (tmp_path / "out" / "stacks").iterdir()
    (provider,) = json.loads((stack_dir / "cdk.tf.json").read_text())["provider"]["aws"]
    assert "endpoints" not in provider  # the block costs seconds per graph walk (emulator_profile)
    assert provider["profile"] == PROFILE
    (config_file,) = provider["shared_config_files"]
    parser = configparser.ConfigParser()
    parser.read_string((stack_dir / config_file).read_text())
    assert parser[f"profile {PROFILE}"]["services"] == PROFILE
    section = parser[f"services {PROFILE}"]
    return {key: section[key].strip().removeprefix("endpoint_url = ") for key in section}


def sdk_keys(*services: str) -> set[str]:
    return {sdk_service_key(service) for service in services}  # type: ignore[misc]


def manager(plugin: NeedsServices) -> PlatformPluginManager:
    return PlatformPluginManager(
        [plugin.name], {plugin.name: in_process_source(plugin.name, plugin)}, environment="test"
    )


def test_enabled_plugins_service_is_pointed_at_the_emulator(tmp_path):
    env = dataclasses.replace(make_environment(["firewall"]), aws_endpoint=EMULATOR)
    assert endpoints(env, tmp_path, {"firewall": FIREWALL})["wafv2"] == EMULATOR


def test_core_services_stay_pointed_at_the_emulator_beside_a_plugins(tmp_path):
    env = dataclasses.replace(make_environment(["firewall"]), aws_endpoint=EMULATOR)
    routed = endpoints(env, tmp_path, {"firewall": FIREWALL})
    assert set(routed) == sdk_keys(*EMULATED_SERVICES, "wafv2")
    assert set(routed.values()) == {EMULATOR}


def test_a_real_environment_gets_no_endpoints_for_a_plugins_services():
    stack = synth(["firewall"], extra_plugins={"firewall": FIREWALL})
    (provider,) = stack.config["provider"]["aws"]
    assert "endpoints" not in provider


def test_a_disabled_plugins_services_are_not_emulated(tmp_path):
    env = dataclasses.replace(make_environment([]), aws_endpoint=EMULATOR)
    assert set(endpoints(env, tmp_path)) == sdk_keys(*EMULATED_SERVICES)


def test_the_sdk_names_services_by_their_service_id():
    assert sdk_keys("logs", "apigateway", "secretsmanager", "sqs") == {
        "cloudwatch_logs",
        "api_gateway",
        "secrets_manager",
        "sqs",
    }


def test_a_service_the_sdk_does_not_know_keeps_the_providers_endpoints_block(monkeypatch):
    from payments_platform.core.host import emulator_profile

    monkeypatch.setattr(emulator_profile, "sdk_service_key", lambda service: None)
    env = dataclasses.replace(make_environment([]), aws_endpoint=EMULATOR)
    (provider,) = synth([], environment=env, cache=False).config["provider"]["aws"]
    (block,) = provider["endpoints"]
    assert set(block) == set(EMULATED_SERVICES) and set(block.values()) == {EMULATOR}
    assert "profile" not in provider


def test_the_stack_text_does_not_follow_the_emulator_port():
    texts = []
    for port in (4566, 40123):
        env = dataclasses.replace(make_environment([]), aws_endpoint=f"http://127.0.0.1:{port}")
        (provider,) = synth([], environment=env, cache=False).config["provider"]["aws"]
        texts.append(json.dumps(provider, sort_keys=True))
    assert texts[0] == texts[1]


def test_unknown_service_id_is_refused_at_declaration_with_a_suggestion():
    with pytest.raises(PluginLoadError, match=r"plugin 'typo'.*emulated service 'wafv3'.*did you mean 'wafv2'"):
        manager(NeedsServices("typo", ("wafv3",)))


def test_service_ids_given_as_a_string_are_refused():
    with pytest.raises(PluginLoadError, match="must be a tuple of service ids"):
        manager(NeedsServices("loose", "wafv2"))


def test_known_services_are_the_provider_bindings_endpoints():
    from payments_platform.core.cdktf_adapter import aws

    # jsii records each Python argument's Terraform name on the struct type.
    mapping = aws.provider.AwsProviderEndpoints.__jsii_name_mapping__
    assert provider_endpoint_services() == frozenset(mapping.values())


def test_every_core_emulated_service_is_a_provider_endpoint():
    assert set(EMULATED_SERVICES) <= provider_endpoint_services()
