"""Resource names follow ``{resource-type}-{environmentSuffix}``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from payments_platform.core.errors import ConfigError

_BASE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")

# AWS limits on the names the platform creates; a name over its limit fails synth, not apply.
MAX_LENGTH = {
    "default": 64,
    "iam_role": 64,
    "lambda": 64,
    "sqs": 80,
    "sns": 256,
    "dynamodb": 255,
    "log_group": 512,
    "alarm": 255,
    "dashboard": 255,
    # S3's 63, less the 12-digit account id and hyphen that make a bucket name globally unique.
    "s3_bucket": 63 - 13,
    "firehose": 64,
}


@dataclass(frozen=True)
class Naming:
    suffix: str

    def name(self, resource_type: str, *, kind: str = "default") -> str:
        """``payment-transactions`` → ``payment-transactions-dev``."""
        if not _BASE.match(resource_type):
            raise ConfigError(f"resource type {resource_type!r} must be lowercase letters, digits and hyphens")
        name = f"{resource_type}-{self.suffix}"
        limit = MAX_LENGTH.get(kind, MAX_LENGTH["default"])
        if len(name) > limit:
            raise ConfigError(f"name {name!r} is {len(name)} characters; the AWS limit for {kind} is {limit}")
        return name

    def fifo_queue(self, resource_type: str) -> str:
        return self.name(resource_type, kind="sqs")[: MAX_LENGTH["sqs"] - 5] + ".fifo"

    def log_group(self, service_path: str) -> str:
        """``/aws/lambda/transaction-processor-dev`` style names."""
        return service_path
