"""A retry of a call the emulator already performed gets that call's answer
(core/local/emulator/retried_calls.py): the cold `terraform apply` CI saw fail with
RevokeSecurityGroupEgress "InvalidPermission.NotFound" -- the provider's retry of a revoke whose
first attempt had succeeded -- succeeds; an attempt that failed, or that a fault touched, is
performed again."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from payments_platform.core.local.emulator.retried_calls import FAULT_MARK, RetriedCalls, retries_said

SIGNED = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261206/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=x"


class Counting:
    """An app answering with the given statuses in turn, counting the calls it performed."""

    def __init__(self, *statuses: str, delay_s: float = 0.0) -> None:
        self.statuses, self.delay_s, self.performed = iter(statuses), delay_s, 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.performed += 1
        number = self.performed
        time.sleep(self.delay_s)
        start_response(next(self.statuses), [("Content-Type", "application/json")])
        return [f'{{"performed": {number}}}'.encode()]


def call(app: RetriedCalls, attempt: int, invocation: str = "inv-1", **extra: Any) -> tuple[str, bytes]:
    environ = {
        "HTTP_AUTHORIZATION": SIGNED,
        "HTTP_X_AMZ_TARGET": "TrentService.CreateAlias",
        "HTTP_AMZ_SDK_INVOCATION_ID": invocation,
        "HTTP_AMZ_SDK_REQUEST": f"attempt={attempt}; max=3",
        **extra,
    }
    answered: list[str] = []
    body = b"".join(app(environ, lambda status, headers, *args: answered.append(status)))
    return answered[0], body


def retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "payments.emulator.retries"]


def test_a_retry_of_a_successful_call_gets_its_answer_without_performing_it_again(caplog):
    inner = Counting("200 OK", "400 Bad Request")
    app = RetriedCalls(inner)
    with caplog.at_level(logging.WARNING):
        first = call(app, attempt=1)
        retry = call(app, attempt=2)
    assert retry == first == ("200 OK", b'{"performed": 1}')
    assert inner.performed == 1
    assert retries(caplog) == [
        "retried request: kms:CreateAlias attempt 2 (invocation inv-1); the earlier attempt: answered 200: "
        "its answer replayed"
    ]


def test_a_retry_after_a_failed_attempt_is_performed_again(caplog):
    inner = Counting("500 Internal Server Error", "200 OK")
    app = RetriedCalls(inner)
    with caplog.at_level(logging.WARNING):
        assert call(app, attempt=1)[0] == "500 Internal Server Error"
        assert call(app, attempt=2) == ("200 OK", b'{"performed": 2}')
    assert inner.performed == 2
    assert retries(caplog) == [
        "retried request: kms:CreateAlias attempt 2 (invocation inv-1); the earlier attempt: answered 500: "
        "performed again"
    ]


def test_an_attempt_a_fault_touched_is_never_replayed():
    # error_after performs the call, then answers an error: the retry must meet what the write left.
    inner = Counting("200 OK", "409 Conflict")
    app = RetriedCalls(inner)
    call(app, attempt=1, **{FAULT_MARK: "error_after"})
    assert call(app, attempt=2) == ("409 Conflict", b'{"performed": 2}')


def test_a_retry_waits_for_an_attempt_still_in_flight_and_gets_its_answer():
    inner = Counting("200 OK", "400 Bad Request", delay_s=0.5)
    app = RetriedCalls(inner)
    first: list[tuple[str, bytes]] = []
    in_flight = threading.Thread(target=lambda: first.append(call(app, attempt=1)))
    in_flight.start()
    time.sleep(0.1)
    retry = call(app, attempt=2)
    in_flight.join()
    assert retry == first[0] == ("200 OK", b'{"performed": 1}')
    assert inner.performed == 1


def test_first_attempts_and_calls_without_an_invocation_id_are_simply_served(caplog):
    inner = Counting("200 OK", "200 OK", "200 OK", "200 OK")
    app = RetriedCalls(inner)
    with caplog.at_level(logging.WARNING):
        call(app, attempt=1, invocation="a")
        call(app, attempt=1, invocation="b")
        call(app, attempt=3, invocation="never-seen")
        call(app, attempt=1, invocation="")
    assert inner.performed == 4
    assert retries(caplog) == [
        "retried request: kms:CreateAlias attempt 3 (invocation never-seen); the earlier attempt: not seen: performed"
    ]


# --------------------------------------------------------------------------- the real path


class SlowFirstAnswer:
    """Performs every call, and holds back the first answer to ``action`` past the client's read
    timeout: the emulator too busy to answer in time, as a loaded CI machine made it."""

    def __init__(self, app: Any, action: str, hold_s: float) -> None:
        self.app, self.action, self.hold_s, self.held = app, action, hold_s, False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        answer = list(self.app(environ, start_response))
        if f"Action={self.action}".encode() in body and not self.held:
            self.held = True
            time.sleep(self.hold_s)
        return answer


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    servers = []

    def start(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def revoke_default_egress_as_the_provider_does(endpoint: str) -> None:
    """aws_security_group's create: CreateSecurityGroup in a VPC, then revoke the default egress rule."""
    ec2 = boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name="eu-west-3",
        config=Config(read_timeout=1, retries={"max_attempts": 3, "mode": "standard"}),
    )
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName=f"retried-{time.monotonic_ns()}", Description="d", VpcId=vpc)
    ec2.revoke_security_group_egress(
        GroupId=group["GroupId"],
        IpPermissions=[{"IpProtocol": "-1", "FromPort": 0, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    (described,) = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"]
    assert described["IpPermissionsEgress"] == []


def moto_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def test_without_the_replay_a_slow_answer_fails_the_providers_revoke_as_it_failed_in_ci(serve):
    endpoint = serve(SlowFirstAnswer(moto_app(), "RevokeSecurityGroupEgress", hold_s=2.5))
    with pytest.raises(ClientError, match="InvalidPermission.NotFound"):
        revoke_default_egress_as_the_provider_does(endpoint)


def test_with_the_replay_the_retry_of_a_slow_answer_succeeds(serve, caplog):
    endpoint = serve(RetriedCalls(SlowFirstAnswer(moto_app(), "RevokeSecurityGroupEgress", hold_s=2.5)))
    with caplog.at_level(logging.WARNING):
        revoke_default_egress_as_the_provider_does(endpoint)
    said = retries(caplog)  # attempt 2 waits for the first answer, and may itself time out: attempt 3 waits too
    assert any(line.startswith("retried request: ec2:RevokeSecurityGroupEgress attempt 2 ") for line in said)
    assert all(line.endswith("the earlier attempt: answered 200: its answer replayed") for line in said)


def test_a_failed_up_can_quote_the_retries_the_emulator_saw(tmp_path, caplog):
    log = tmp_path / "emulator.log"
    log.write_text(
        "2026-12-06 07:24:09,561 INFO werkzeug: 127.0.0.1 - POST / 200\n"
        "2026-12-06 07:24:09,561 WARNING payments.emulator.retries: retried request: kms:GetKeyPolicy attempt 2 "
        "(invocation c5); the earlier attempt: answered 200: its answer replayed\n"
    )
    assert retries_said(log) == [
        "kms:GetKeyPolicy attempt 2 (invocation c5); the earlier attempt: answered 200: its answer replayed"
    ]
    assert retries_said(tmp_path / "missing.log") == []
