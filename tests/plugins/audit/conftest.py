"""Fixtures for the audit plugin tests: one synthesized stack, shared by every test."""

from __future__ import annotations

import pytest
from audit_support import audit_synth

from payments_platform.core.testing import SynthesizedStack


@pytest.fixture(scope="session")
def audit_stack() -> SynthesizedStack:
    return audit_synth()
