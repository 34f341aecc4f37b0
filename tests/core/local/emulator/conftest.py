"""One emulator process (payments_platform.core.local.emulator.server) for this folder's tests,
and IAM users holding exactly the policy a test gives them."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from payments_platform.core.testing.emulator import RunningEmulator, running_emulator

REGION = "us-east-1"
_user_numbers = itertools.count()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp("emulator")) as running:
        yield running


@pytest.fixture(scope="session")
def admin(emulator: RunningEmulator) -> Callable[[str], Any]:
    """admin("dynamodb") -> a client signing as the emulator's administrator."""
    session = emulator.admin_session(REGION)
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=emulator.endpoint)
        return clients[service]

    return client


@pytest.fixture(scope="session")
def user_with_policy(emulator: RunningEmulator, admin) -> Callable[..., Callable[[str], Any]]:
    """user_with_policy(statement, ...) -> a client factory signing as a fresh IAM user whose only
    permissions are those statements (an inline policy, as the lead's per-function users hold)."""

    def make(*statements: dict[str, Any]) -> Callable[[str], Any]:
        name = f"least-privilege-{next(_user_numbers)}"
        iam = admin("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(
            UserName=name,
            PolicyName="only",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        session = boto3.session.Session(
            region_name=REGION, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
        )
        return lambda service: session.client(service, endpoint_url=emulator.endpoint)

    return make
