from __future__ import annotations

import pytest

from .support import AwsResources, aws_environment


@pytest.fixture
def aws(monkeypatch) -> AwsResources:
    with aws_environment(monkeypatch) as resources:
        yield resources
