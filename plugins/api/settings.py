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

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from payments_platform.core import LogRetentionDays, PluginSettings, unique_strings

# API Gateway stage names: letters, digits, hyphens and underscores (max 128).
STAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# A client name lands in an API key name ``payments-client-{client}-{suffix}``.
CLIENT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")

# AWS Lambda's ceiling for a function's timeout is 900 s, but API Gateway gives up on an
# integration after 29 s: a longer function timeout only wastes concurrency.
MAX_TIMEOUT_SECONDS = 29
# Of the processor's timeout, what the connector's budget must leave: the transaction's write and
# its received/processing messages before the call, the outcome's write, messages and completion
# after it (each bounded by runtime/aws_clients.py's per-attempt timeouts), and the response.
AUTHORIZATION_RESERVE_MS = 4000
# Payments functions run in a VPC with X-Ray and botocore: below 512 MB cold starts
# (CPU scales with memory) push p99 latency past the API's budget.
MIN_MEMORY_MB = 512
# The functions behind the API's methods (definition.py), the ones a capacity plan is about.
API_FUNCTIONS = ("transaction-processor", "status-checker")
# A planned service time's source lands on its function as a tag: what a Lambda tag value may hold.
TAG_VALUE = re.compile(r"^[\w +=.:/@-]{1,256}$")


class PlannedServiceTime(BaseModel):
    """The p99 duration a function is planned with, and where that figure comes from (a
    measurement: BENCHMARKS.md, CloudWatch's Duration p99 of the deployed function, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    p99_ms: float = Field(gt=0)
    source: str

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        """1-256 letters, digits, spaces or _ + = . : / @ - (it is tagged on the function)"""
        if not TAG_VALUE.match(value):
            raise ValueError(
                f"source {value!r} must be 1-256 letters, digits, spaces or _ + = . : / @ - (a Lambda tag value)"
            )
        return value


class ApiSettings(PluginSettings):
    auth: Literal["api_key", "iam"] = "api_key"
    # One API key per client; required (non-empty) when auth = "api_key".
    clients: unique_strings(CLIENT_NAME.pattern, "a client name of 1-32 lowercase letters, digits or inner hyphens") = (
        "default",
    )
    stage_name: str = "prod"

    throttle_rate: int = Field(default=10000, gt=0)  # requests per second, steady state
    throttle_burst: int = Field(default=5000, gt=0)
    # The p99 duration each API function is planned with (function key → p99_ms and its source).
    # A method's capacity is its function's reserved concurrency ÷ this p99 (Little's law); a function
    # without one is planned at its timeout, the worst case, and synth says so (PP-CAPACITY).
    service_time: dict[str, PlannedServiceTime] = Field(default_factory=dict)
    # The peak the API must serve, in requests per second per method: each API function then reserves
    # ⌈peak_rps × planned p99⌉ concurrent executions (instead of ``reserved_concurrency``).
    peak_rps: int | None = Field(default=None, gt=0)
    # Each Lambda-backed method's own steady rate; None: its capacity, reserved concurrency ÷ planned
    # p99. Its burst is always the reserved concurrency. A higher rate is allowed and reported at synth
    # (PP-CAPACITY warning), never hidden: what Lambda cannot take is answered 503 + Retry-After.
    method_throttle_rate: float | None = Field(default=None, gt=0)
    # The share of each method's admitted rate and burst one client's usage plan allows; None: an even
    # split, 1 ÷ the number of clients -- so no client can take another's capacity.
    client_share: float | None = Field(default=None, gt=0, le=1)
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

    # Where a payment connector is enabled: the longest POST /transactions waits for its answer
    # before answering 202 "processing" (the outcome then follows through GET /status, the event
    # and the reconciler's status query). It must leave AUTHORIZATION_RESERVE_MS of the timeout for
    # the writes and messages around the call.
    authorization_budget_ms: int = Field(default=3000, ge=100)

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
        """authorization_budget_ms leaves AUTHORIZATION_RESERVE_MS of timeout_seconds; clients non-empty with auth = "api_key"; service_time names only API functions, each p99 within
        the timeout; peak_rps not with reserved_concurrency, and with a planned p99 for each API function; at
        most one of manage_account_cloudwatch_role and account_cloudwatch_role_exists; logging_level ERROR or
        INFO only with one of them"""
        if self.authorization_budget_ms + AUTHORIZATION_RESERVE_MS > self.timeout_seconds * 1000:
            raise ValueError(
                f"authorization_budget_ms = {self.authorization_budget_ms} leaves less than {AUTHORIZATION_RESERVE_MS} ms "
                f"of the {self.timeout_seconds} s timeout_seconds for the writes and messages around the connector call"
            )
        if self.auth == "api_key" and not self.clients:
            raise ValueError("clients must name at least one client when auth = 'api_key'")
        unknown = sorted(set(self.service_time) - set(API_FUNCTIONS))
        if unknown:
            raise ValueError(f"service_time names {unknown}: the API's functions are {list(API_FUNCTIONS)}")
        for key, planned in self.service_time.items():
            if planned.p99_ms > self.timeout_seconds * 1000:
                raise ValueError(
                    f"service_time.{key}.p99_ms = {planned.p99_ms:g} is longer than the {self.timeout_seconds} s "
                    "timeout: every such call would be cut off"
                )
        if self.peak_rps is not None:
            if "reserved_concurrency" in self.model_fields_set:
                raise ValueError(
                    "peak_rps and reserved_concurrency are exclusive: with peak_rps each API function reserves "
                    "⌈peak_rps × planned p99⌉ concurrent executions"
                )
            missing = [key for key in API_FUNCTIONS if key not in self.service_time]
            if missing:
                raise ValueError(f"peak_rps needs a planned p99 (service_time) for {missing}")
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

    def planned_p99_ms(self, function_key: str) -> float:
        """The service time a function is planned with: its stated p99, else its timeout."""
        planned = self.service_time.get(function_key)
        return planned.p99_ms if planned is not None else self.timeout_seconds * 1000.0

    def function_reserved_concurrency(self, function_key: str) -> int:
        """An API function's reserved concurrency: for ``peak_rps``, Little's law (in flight = rate ×
        duration) at its planned p99, else the ``reserved_concurrency`` setting."""
        if self.peak_rps is not None and function_key in API_FUNCTIONS:
            # round() first: 10,000 × 0.25 s is 2,500 in decimal, 2,500.0000000000005 in binary.
            return math.ceil(round(self.peak_rps * self.planned_p99_ms(function_key) / 1000, 6))
        return self.reserved_concurrency

    @property
    def client_share_of_capacity(self) -> float:
        """One client's share of each method's capacity (1 without API-key clients)."""
        if self.client_share is not None:
            return self.client_share
        return 1 / len(self.api_clients) if self.api_clients else 1.0

    @property
    def api_clients(self) -> tuple[str, ...]:
        """Clients that get an API key (none with IAM auth)."""
        return self.clients if self.auth == "api_key" else ()
