"""What a local run reads of the stack it deployed, and the gateway spec it hands the gateway process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from payments_platform.core.local.deployed_stack import DeployedStack
from payments_platform.core.local.gateway_spec import GatewaySpec
from payments_platform.core.local.lambdafn.deployed_functions import DeployedFunctionError
from payments_platform.core.local.lambdafn.service import FunctionSpec


def stack(tmp_path: Path, resources: dict) -> DeployedStack:
    (tmp_path / "cdk.tf.json").write_text(json.dumps({"resource": resources}))
    return DeployedStack("http://127.0.0.1:9", "us-east-1", tmp_path)


def test_every_declared_rest_api_is_read_by_name_sorted(tmp_path: Path):
    apis = {"aws_api_gateway_rest_api": {"b": {"name": "payments-api"}, "a": {"name": "admin-api"}}}
    assert stack(tmp_path, apis).api_names == ["admin-api", "payments-api"]


def test_functions_are_found_with_the_zip_each_is_deployed_from(tmp_path: Path):
    functions = {"aws_lambda_function": {"x": {"function_name": "b-fn", "filename": "assets/p/a.zip"}}}
    assert stack(tmp_path, functions).packages() == {"b-fn": tmp_path / "assets/p/a.zip"}


def test_a_function_deployed_from_s3_is_refused_in_one_line(tmp_path: Path):
    signed = {"aws_lambda_function": {"x": {"function_name": "signed-fn", "s3_bucket": "b", "s3_key": "k"}}}
    with pytest.raises(DeployedFunctionError, match="signed-fn is deployed from S3"):
        stack(tmp_path, signed).packages()


def test_the_gateway_spec_reads_back_what_was_written(tmp_path: Path):
    function = FunctionSpec(
        name="fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
        handler="h.handler",
        timeout_s=3,
        memory_mb=512,
        reserved_concurrency=2,
        environment={"A": "1"},
        code_dir=tmp_path / "functions" / "fn",
        log_group="/aws/lambda/fn",
        role_arn="arn:aws:iam::123456789012:role/fn",
    )
    spec = GatewaySpec(
        endpoint="http://127.0.0.1:4566",
        region="us-east-1",
        stack_dir=tmp_path / "stack",
        host="127.0.0.1",
        port=0,
        ready_file=tmp_path / "gateway.ready",
        functions=(function,),
        credentials={"fn": {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"}},
        control_socket=tmp_path / "control.sock",
    )
    spec.write(tmp_path / "spec.json")
    assert GatewaySpec.read(tmp_path / "spec.json") == spec
    assert oct((tmp_path / "spec.json").stat().st_mode & 0o777) == "0o600"  # it holds keys
