"""Settings the api plugin accepts (``[environments.<env>.settings.api]``).

See README.md in this folder for what each choice means in AWS; the short version:

* ``auth`` -- ``"api_key"`` (default): every method but OPTIONS needs an ``x-api-key`` from
  ``clients``; ``"iam"``: SigV4 (``AWS_IAM``), no API keys, the usage plan still throttles.
* ``manage_account_cloudwatch_role`` / ``account_cloudwatch_role_exists`` -- API Gateway's
  execution logging needs ONE account-and-region-wide CloudWatch role. At most one
  environment per account and region may own it (``manage_account_cloudwatch_role = true``);
  others either say it already exists or run with execution logging ``OFF``.
* ``logging_level`` -- unset means "INFO when an account role is available, else OFF";
  asking for ``INFO``/``ERROR`` without one is a configuration error rather than a failed
  apply (API Gateway refuses the stage setting when the account has no role).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from payments_platform.core import LogRetentionDays, PluginSettings, unique_strings

# API Gateway stage names: letters, digits, hyphens and underscores (max 128).
STAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# A client name lands in an API key name ``payments-client-{client}-{suffix}``.
CLIENT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")

# AWS Lambda's ceiling for a function's timeout is 900 s, but API Gateway gives up on an
# integration after 29 s: a longer function timeout only wastes concurrency.
MAX_TIMEOUT_SECONDS = 29
# Payments functions run in a VPC with X-Ray and botocore: below 512 MB cold starts
# (CPU scales with memory) push p99 latency past the API's budget.
MIN_MEMORY_MB = 512


class ApiSettings(PluginSettings):
    auth: Literal["api_key", "iam"] = "api_key"
    # One API key per client; required (non-empty) when auth = "api_key".
    clients: unique_strings(CLIENT_NAME.pattern, "a client name of 1-32 lowercase letters, digits or inner hyphens") = (
        "default",
    )
    stage_name: str = "prod"

    throttle_rate: int = Field(default=10000, gt=0)  # requests per second, steady state
    throttle_burst: int = Field(default=5000, gt=0)
    # Each Lambda-backed method's own steady rate; None: its function's reserved concurrency ÷ timeout
    # (what it serves when every call runs to its timeout). Its burst is always the reserved concurrency.
    # A higher rate is allowed and reported at synth (PP-CAPACITY warning), never hidden.
    method_throttle_rate: float | None = Field(default=None, gt=0)
    logging_level: Literal["OFF", "ERROR", "INFO"] | None = None
    manage_account_cloudwatch_role: bool = False
    account_cloudwatch_role_exists: bool = False

    memory_mb: int = Field(default=MIN_MEMORY_MB, ge=MIN_MEMORY_MB, le=10240)
    timeout_seconds: int = Field(default=10, ge=1, le=MAX_TIMEOUT_SECONDS)
    # AWS refuses a reservation that leaves the account fewer than 100 unreserved concurrent
    # executions (new accounts often have a total limit of 10: raise it before deploying).
    reserved_concurrency: int = Field(default=5, ge=1)
    architecture: Literal["arm64", "x86_64"] = "arm64"
    log_retention_days: LogRetentionDays = 30
    function_log_level: Literal["DEBUG", "INFO"] = "INFO"
    # The card-fingerprint key's cryptoperiod (PCI DSS 3.6.1.3 / 3.7.4): Secrets Manager rotates it
    # this often (key_rotation.py). At most a year.
    fingerprint_key_rotation_days: int = Field(default=90, ge=1, le=365)

    # Deploy only packages signed by the environment's AWS Signer profile (code_signing.py).
    # Off only where the target cannot do it: the emulator has no Signer jobs or signing configs.
    code_signing: bool = True

    # Where packaged Lambda zips are cached (content-addressed); default: <tmp>/payments-platform-build
    build_cache_dir: str | None = None

    @field_validator("stage_name")
    @classmethod
    def _stage_name(cls, value: str) -> str:
        """letters, digits, '-' or '_', at most 64"""
        if not STAGE_NAME.match(value):
            raise ValueError(f"stage name {value!r} must be letters, digits, '-' or '_' (at most 64)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ApiSettings:
        """clients non-empty with auth = "api_key"; at most one of manage_account_cloudwatch_role and
        account_cloudwatch_role_exists; logging_level ERROR or INFO only with one of them"""
        if self.auth == "api_key" and not self.clients:
            raise ValueError("clients must name at least one client when auth = 'api_key'")
        if self.manage_account_cloudwatch_role and self.account_cloudwatch_role_exists:
            raise ValueError(
                "manage_account_cloudwatch_role and account_cloudwatch_role_exists are exclusive: "
                "either this environment owns the account's API Gateway CloudWatch role or another does"
            )
        if self.logging_level in ("ERROR", "INFO") and not self.execution_logging_available:
            raise ValueError(
                f"logging_level = {self.logging_level!r} needs the account's API Gateway CloudWatch role: "
                "set manage_account_cloudwatch_role = true (one environment per account and region) "
                "or account_cloudwatch_role_exists = true, or use logging_level = 'OFF'"
            )
        return self

    @property
    def execution_logging_available(self) -> bool:
        return self.manage_account_cloudwatch_role or self.account_cloudwatch_role_exists

    @property
    def execution_logging_level(self) -> str:
        """The stage's execution logging level, once the account role question is settled."""
        if self.logging_level is not None:
            return self.logging_level
        return "INFO" if self.execution_logging_available else "OFF"

    @property
    def api_clients(self) -> tuple[str, ...]:
        """Clients that get an API key (none with IAM auth)."""
        return self.clients if self.auth == "api_key" else ()
