"""Fixtures for the api plugin tests: two synthesized stacks (API-key and IAM auth), shared.

* ``api_key_stack`` -- API keys for two clients, owns the account CloudWatch role (so
  execution and access logging are on), reserved concurrency 7.
* ``iam_stack`` -- IAM auth, no account role (logging OFF, no access log), 1024 MB.
"""

from __future__ import annotations

import pytest
from api_support import API_KEY_SETTINGS, IAM_SETTINGS, synth_api

from payments_platform.core.testing import SynthesizedStack


@pytest.fixture(scope="session")
def api_key_stack() -> SynthesizedStack:
    return synth_api(API_KEY_SETTINGS)


@pytest.fixture(scope="session")
def iam_stack() -> SynthesizedStack:
    return synth_api(IAM_SETTINGS)
