"""What ``payments_platform.core`` exports is what a plugin uses, and nothing of the host."""

from __future__ import annotations

import subprocess
import sys

import pytest

from payments_platform import core
from payments_platform.core.errors import PluginDeprecationWarning

MACHINERY = ("host", "ops", "authoring", "local", "cli", "testing")


def test_importing_the_contract_loads_none_of_the_cores_machinery():
    # A fresh interpreter: this one has loaded the host long ago.
    probe = (
        "import sys, payments_platform.core\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[2:3] and m.split('.')[2] in {MACHINERY!r}))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert loaded.stdout.strip() == "[]"


def test_no_exported_name_is_defined_by_the_host_or_below():
    defined_outside = {
        name: module
        for name in core.__all__
        if (module := getattr(getattr(core, name), "__module__", "") or "").split(".")[2:3]
        and module.split(".")[2] in MACHINERY
    }
    assert defined_outside == {}
    assert not {"load_config", "PlatformConfig", "RegionPlan", "BuildContext", "policy"} & set(core.__all__)


@pytest.mark.parametrize(
    "name, home",
    [
        ("load_config", "payments_platform.core.host.config"),
        ("PlatformConfig", "payments_platform.core.host.config"),
        ("RegionPlan", "payments_platform.core.environment"),
    ],
)
def test_a_name_moved_out_of_the_contract_still_resolves_with_a_deprecation_naming_its_home(name, home):
    import importlib

    with pytest.warns(PluginDeprecationWarning, match=rf"payments_platform\.core\.{name} .* import it from {home}"):
        value = getattr(core, name)
    assert value is getattr(importlib.import_module(home), name)


def test_an_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'load_configuration'"):
        core.load_configuration  # noqa: B018
