"""PluginDeclaration.emulated_services: what an enabled plugin needs from the local emulator."""

from __future__ import annotations

import dataclasses

import pytest

from payments_platform.core import PluginDeclaration, hookimpl
from payments_platform.core.errors import PluginLoadError
from payments_platform.core.host.foundation import EMULATED_SERVICES
from payments_platform.core.host.plugin_manager import PlatformPluginManager, in_process_source
from payments_platform.core.host.provider_endpoints import provider_endpoint_services
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


def endpoints(stack) -> dict[str, str]:
    (provider,) = stack.config["provider"]["aws"]
    (block,) = provider["endpoints"]
    return block


def manager(plugin: NeedsServices) -> PlatformPluginManager:
    return PlatformPluginManager(
        [plugin.name], {plugin.name: in_process_source(plugin.name, plugin)}, environment="test"
    )


def test_enabled_plugins_service_is_pointed_at_the_emulator():
    env = dataclasses.replace(make_environment(["firewall"]), aws_endpoint=EMULATOR)
    stack = synth(["firewall"], extra_plugins={"firewall": FIREWALL}, environment=env)
    assert endpoints(stack)["wafv2"] == EMULATOR


def test_core_services_stay_pointed_at_the_emulator_beside_a_plugins():
    env = dataclasses.replace(make_environment(["firewall"]), aws_endpoint=EMULATOR)
    stack = synth(["firewall"], extra_plugins={"firewall": FIREWALL}, environment=env)
    assert set(endpoints(stack)) == {*EMULATED_SERVICES, "wafv2"}
    assert set(endpoints(stack).values()) == {EMULATOR}


def test_a_real_environment_gets_no_endpoints_for_a_plugins_services():
    stack = synth(["firewall"], extra_plugins={"firewall": FIREWALL})
    (provider,) = stack.config["provider"]["aws"]
    assert "endpoints" not in provider


def test_a_disabled_plugins_services_are_not_emulated():
    env = dataclasses.replace(make_environment([]), aws_endpoint=EMULATOR)
    stack = synth([], environment=env)
    assert "wafv2" not in endpoints(stack)


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
