"""A local function reaches what it could reach in AWS: the emulated AWS services always, the
internet only on the ports it declared (its deployed egress-ports tag). Anything else fails as in
AWS (the connect times out) with one line naming the function -- real workers, real sockets."""

from __future__ import annotations

import dataclasses
import http.server
import json
import socketserver
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_lambda_service import run_service, spec

from payments_platform.core.local.lambdafn.deployed_functions import declared_egress_ports
from payments_platform.core.local.lambdafn.service import FunctionFailed

CALLER = textwrap.dedent(
    """
    import json, urllib.request

    def call(event, context):
        with urllib.request.urlopen(event["url"], timeout=5) as answer:
            return {"status": answer.status, "body": answer.read().decode()}
    """
)


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"received")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[int]:
    """A real HTTP server on loopback standing in for a merchant's host on the internet."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def caller_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("caller")
    (root / "caller.py").write_text(CALLER)
    return root


def invoke(function: Any, url: str, **service: Any) -> tuple[Any, list[str]]:
    async def scenario(service: Any, lines: list[tuple[str, str]]) -> Any:
        try:
            result: Any = json.loads(
                await service.invoke(function.name, json.dumps({"url": url}).encode(), trace_id="t")
            )
        except FunctionFailed as failure:
            result = failure
        return result, [line for _, line in lines]

    return run_service([function], scenario, **service)


def test_a_function_without_egress_cannot_reach_a_host_outside_the_emulated_services(caller_dir, receiver):
    function = spec(caller_dir, "caller.call", name="quiet-sender")
    result, lines = invoke(function, f"http://127.0.0.1:{receiver}/")
    assert isinstance(result, FunctionFailed)
    refusals = [line for line in lines if line.startswith("[local] function 'quiet-sender' connected to")]
    assert len(refusals) == 1
    assert f"127.0.0.1:{receiver}, refused: it declared no egress" in refusals[0]


def test_a_function_that_declared_the_port_reaches_the_host(caller_dir, receiver):
    function = dataclasses.replace(spec(caller_dir, "caller.call", name="sender"), egress_ports=(443, receiver))
    result, lines = invoke(function, f"http://127.0.0.1:{receiver}/")
    assert result == {"status": 200, "body": "received"}
    assert not [line for line in lines if "refused" in line]


def test_a_function_with_egress_on_other_ports_is_refused_that_port(caller_dir, receiver):
    function = dataclasses.replace(spec(caller_dir, "caller.call", name="sender"), egress_ports=(443,))
    result, lines = invoke(function, f"http://127.0.0.1:{receiver}/")
    assert isinstance(result, FunctionFailed)
    assert any("its declared egress allows TCP 443 only" in line for line in lines)


def test_the_emulated_aws_endpoint_stays_reachable_without_egress(caller_dir, receiver):
    """The endpoint the service gives its containers (AWS_ENDPOINT_URL) is the emulated AWS: allowed."""
    function = spec(caller_dir, "caller.call", name="quiet-sender")
    result, lines = invoke(function, f"http://127.0.0.1:{receiver}/", endpoint=f"http://127.0.0.1:{receiver}")
    assert result == {"status": 200, "body": "received"}


def test_a_function_cannot_widen_its_reach_with_its_own_endpoint_variable(caller_dir, receiver):
    own = dataclasses.replace(
        spec(caller_dir, "caller.call", name="quiet-sender"),
        environment={"AWS_ENDPOINT_URL_MERCHANT": f"http://127.0.0.1:{receiver}"},
    )
    result, lines = invoke(own, f"http://127.0.0.1:{receiver}/")
    assert isinstance(result, FunctionFailed)


def test_the_deployed_tag_says_which_ports_were_declared():
    assert declared_egress_ports({"egress-ports": "8443 443"}) == (443, 8443)
    assert declared_egress_ports({"other": "x"}) is None


def test_read_function_takes_the_declared_ports_from_the_deployed_tags(tmp_path):
    """What the guard enforces comes from the deployed function (moto, as the emulator deploys it)."""
    import io
    import zipfile

    import boto3
    from moto import mock_aws

    from payments_platform.core.local.lambdafn.deployed_functions import read_function

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("caller.py", CALLER)
    package = tmp_path / "package.zip"
    package.write_bytes(buffer.getvalue())
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client = boto3.client("lambda", region_name="us-east-1")
        for name, tags in (("sender", {"egress-ports": "443"}), ("quiet", {})):
            client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler="caller.call",
                Code={"ZipFile": package.read_bytes()},
                Tags=tags,
            )
        sender = read_function(client, "sender", package, tmp_path / "code")
        quiet = read_function(client, "quiet", package, tmp_path / "code")
    assert (sender.egress_ports, quiet.egress_ports) == ((443,), None)
