"""Every hook in the contract is documented in code and in the plugin author's guide."""

import inspect
from pathlib import Path

import pytest

from payments_platform.core import hookspec
from payments_platform.core.host.plugin_manager import hook_names
from payments_platform.core.keys import WELL_KNOWN_KEYS

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "PLUGIN_AUTHORS.md"


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_a_docstring(name):
    doc = inspect.getdoc(getattr(hookspec, name)) or ""
    assert len(doc) > 80, f"hook {name} needs a docstring saying arguments, return and when it is called"


@pytest.mark.parametrize("name", hook_names())
def test_hook_is_in_the_plugin_authors_guide(name):
    assert f"`{name}" in GUIDE.read_text(), f"{name} is missing from docs/PLUGIN_AUTHORS.md"


def test_guide_mentions_no_hook_that_does_not_exist():
    import re

    mentioned = set(re.findall(r"`(payments_[a-z_]+)\(", GUIDE.read_text()))
    assert mentioned <= set(hook_names()), f"guide mentions unknown hooks: {mentioned - set(hook_names())}"


def test_every_phase_has_a_hook():
    assert {f"payments_{phase}" for phase in hookspec.BUILD_PHASES} <= set(hook_names())


@pytest.mark.parametrize("key", WELL_KNOWN_KEYS, ids=lambda key: key.name)
def test_well_known_key_is_in_the_plugin_authors_guide(key):
    assert f"`{key.name}`" in GUIDE.read_text(), f"context key {key.name} is missing from docs/PLUGIN_AUTHORS.md"
