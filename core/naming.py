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
    "schedule": 64,
}
# What each kind is for, as the reference shows it.
KIND_DESCRIPTIONS = {
    "default": "anything without a kind of its own (64, the strictest common limit)",
    "iam_role": "an IAM role (``ctx.roles.role`` names roles itself)",
    "lambda": "a Lambda function",
    "sqs": "an SQS queue (``fifo_queue`` adds ``.fifo`` within the limit)",
    "sns": "an SNS topic",
    "dynamodb": "a DynamoDB table",
    "log_group": "a CloudWatch Logs log group",
    "alarm": "a CloudWatch alarm",
    "dashboard": "a CloudWatch dashboard",
    "s3_bucket": "an S3 bucket, before the account id that makes it globally unique",
    "firehose": "a Kinesis Data Firehose delivery stream",
    "schedule": "an EventBridge Scheduler schedule",
}


@dataclass(frozen=True)
class Naming:
    """``ctx.naming``: every resource name is ``{resource-type}-{suffix}`` (the PP-NAME-SUFFIX
    policy rule), checked against the AWS length limit of its kind."""

    suffix: str  # the environment's suffix (ENVIRONMENT_SUFFIX may override it)

    def name(self, resource_type: str, *, kind: str = "default") -> str:
        """``payment-transactions`` → ``payment-transactions-dev``: ``resource_type`` in lowercase
        letters, digits and hyphens; ``kind`` (the kinds table; any other gets ``default``'s) sets the
        length limit. Raises ``ConfigError`` for a bad type or a name over the limit."""
        if not _BASE.match(resource_type):
            raise ConfigError(f"resource type {resource_type!r} must be lowercase letters, digits and hyphens")
        name = f"{resource_type}-{self.suffix}"
        limit = MAX_LENGTH.get(kind, MAX_LENGTH["default"])
        if len(name) > limit:
            raise ConfigError(f"name {name!r} is {len(name)} characters; the AWS limit for {kind} is {limit}")
        return name

    def fifo_queue(self, resource_type: str) -> str:
        """A FIFO queue's name: ``{resource-type}-{suffix}.fifo``, within SQS's limit."""
        return self.name(resource_type, kind="sqs")[: MAX_LENGTH["sqs"] - 5] + ".fifo"

    def log_group(self, service_path: str) -> str:
        """``service_path`` unchanged (``/aws/lambda/transaction-processor-dev`` style names carry
        the suffix in the function name already)."""
        return service_path
