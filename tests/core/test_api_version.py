"""A plugin's requires_api range against the core's PLUGIN_API_VERSION."""

from __future__ import annotations

import pytest

from payments_platform.core import PLUGIN_API_VERSION, PluginDeclaration, hookimpl
from payments_platform.core.errors import PluginLoadError
from payments_platform.core.host.plugin_manager import PlatformPluginManager, in_process_source


class Requiring:
    def __init__(self, requires_api: str) -> None:
        self.requires_api = requires_api

    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name="fraud", description="needs an API range", requires_api=self.requires_api)


def load(requires_api: str) -> PlatformPluginManager:
    sources = {"fraud": in_process_source("fraud", Requiring(requires_api))}
    return PlatformPluginManager(["fraud"], sources, environment="test")


def test_core_version_is_major_dot_minor():
    major, minor = PLUGIN_API_VERSION.split(".")
    assert major.isdigit() and minor.isdigit()


@pytest.mark.parametrize("requires_api", ["", f">={PLUGIN_API_VERSION}", f"=={PLUGIN_API_VERSION.split('.')[0]}.*"])
def test_plugin_whose_range_includes_the_core_version_loads(requires_api):
    assert load(requires_api).declaration("fraud").requires_api == requires_api


def test_plugin_requiring_a_newer_major_is_refused_naming_plugin_range_and_core_version():
    major = int(PLUGIN_API_VERSION.split(".")[0])
    with pytest.raises(PluginLoadError) as caught:
        load(f">={major + 1}.0,<{major + 2}")
    assert str(caught.value) == (
        f"plugin 'fraud' (distribution <in-process> 0) requires plugin API >={major + 1}.0,<{major + 2}, "
        f"but this payments-platform provides plugin API {PLUGIN_API_VERSION}: "
        f"install a version of the plugin written for {PLUGIN_API_VERSION}"
    )


def test_requirement_that_is_not_a_version_range_is_refused_with_an_example():
    with pytest.raises(
        PluginLoadError, match=r"requires_api='one point oh', which is not a version range \(write e.g. '>=1.0,<2'\)"
    ):
        load("one point oh")


def test_a_plugin_written_for_1_0_still_loads_on_this_minor_version():
    """1.1 and 1.2 only added: extensions/payments-waf, written for >=1.0,<2, loads unchanged."""
    from payments_platform.core.host.plugin_manager import discover_plugins

    sources = discover_plugins()
    waf = PlatformPluginManager(["waf"], sources, environment="test").declaration("waf")
    assert (waf.requires_api, PLUGIN_API_VERSION) == (">=1.0,<2", "1.2")
