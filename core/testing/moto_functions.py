"""A Lambda function moto knows about, for tests of what names one (a secret's rotation function,
an event source mapping) against moto in-process (``moto.mock_aws``). Its code never runs: route
moto's ``LambdaBackend.invoke`` to the handler under test.

    from payments_platform.core.testing.moto_functions import placeholder_function
    arn = placeholder_function("card-fingerprint-rotator-test", region="eu-west-1")
"""

from __future__ import annotations

import io
import json
import zipfile

import boto3


def placeholder_function(name: str, *, region: str) -> str:
    """Create the function (and a role for it) in the active moto mock; its ARN."""
    role = boto3.client("iam", region_name=region).create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("placeholder.py", "")
    return boto3.client("lambda", region_name=region).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="placeholder.handler",
        Code={"ZipFile": package.getvalue()},
    )["FunctionArn"]
