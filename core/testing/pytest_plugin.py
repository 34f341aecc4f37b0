"""pytest plugin (entry point ``pytest11``): fixtures for testing platform plugins.

Importing this module is cheap; cdktf loads on the first synth.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payments_platform.core.testing import SynthesizedStack, assert_resource, synth


@pytest.fixture(scope="session")
def platform_synth() -> Callable[..., SynthesizedStack]:
    """``platform_synth(["network"], extra_plugins={...}, settings={...})`` — synthesized once
    per configuration per test session."""
    return synth


@pytest.fixture
def assert_platform_resource() -> Callable[..., None]:
    """``assert_platform_resource(stack, type, properties, lists="exact" | "subset")``: see ``assert_resource``."""
    return assert_resource
