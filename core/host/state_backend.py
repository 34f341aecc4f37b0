"""Where a stack keeps its Terraform state: a local file beside the synth output, or S3.

S3 state (``[environments.<env>.state]``) is encrypted with the configured KMS key (PCI DSS
3.5: the state holds the generated card-fingerprint secret) and locked with a lockfile
object beside it (``use_lockfile``, Terraform >= 1.10), so two applies never interleave.
cdktf 0.21's ``S3Backend`` binding predates ``use_lockfile``; it is set as an override.
"""

from __future__ import annotations

from typing import Any

from payments_platform.core.cdktf_adapter import LocalBackend, S3Backend
from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.host.emulator_identity import EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY

# Services the S3 backend calls: the bucket, and the caller identity it checks.
_EMULATED_BACKEND_SERVICES = ("s3", "sts", "iam")
EMULATOR_CREDENTIALS = {"access_key": EMULATOR_ACCESS_KEY_ID, "secret_key": EMULATOR_SECRET_ACCESS_KEY}


def add_state_backend(stack: Any, env: EnvironmentConfig) -> None:
    if env.state is None:
        # Relative, so the synthesized config is identical on every machine.
        LocalBackend(stack, path=env.state_file)
        return
    backend = S3Backend(stack, **s3_backend_arguments(env))
    backend.add_override("use_lockfile", True)


def s3_backend_arguments(env: EnvironmentConfig) -> dict[str, Any]:
    """The S3 backend's settings; emulator endpoints only when the environment names one."""
    state = env.state
    assert state is not None and env.state_key is not None
    arguments: dict[str, Any] = {
        "bucket": state.bucket,
        "key": env.state_key,
        "region": state.region,
        "encrypt": True,
        "kms_key_id": state.kms_key_id,
    }
    if env.aws_endpoint is not None:
        arguments.update(
            EMULATOR_CREDENTIALS,
            endpoints={service: env.aws_endpoint for service in _EMULATED_BACKEND_SERVICES},
            use_path_style=True,
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check=True,
            skip_region_validation=True,
        )
    return arguments


def state_s3_client(env: EnvironmentConfig) -> Any:
    """A boto3 S3 client for the environment's state bucket (the emulator's when it has one)."""
    import boto3

    assert env.state is not None
    if env.aws_endpoint is None:
        return boto3.session.Session(region_name=env.state.region).client("s3")
    return boto3.session.Session(
        region_name=env.state.region,
        aws_access_key_id=EMULATOR_CREDENTIALS["access_key"],
        aws_secret_access_key=EMULATOR_CREDENTIALS["secret_key"],
    ).client("s3", endpoint_url=env.aws_endpoint)


def lock_key(env: EnvironmentConfig) -> str:
    """Where terraform's native S3 lock lives: beside the state object."""
    assert env.state_key is not None
    return f"{env.state_key}.tflock"
