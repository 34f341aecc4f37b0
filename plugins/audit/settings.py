"""Settings the audit plugin accepts (``[environments.<env>.settings.audit]``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from payments_platform.core import LogRetentionDays, PluginSettings, unique_strings

# PCI DSS 10.5.1: audit log history kept at least 12 months. 400 days covers a year plus the
# time an assessment takes to ask for the oldest month.
MIN_RETENTION_DAYS = 400
# Lambda polls a FIFO queue in batches of at most 10 and allows no batching window.
MAX_FIFO_BATCH_SIZE = 10
# aws:PrincipalArn of a role or user: what the archive's bucket policy compares against.
PRINCIPAL_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$"


class AuditSettings(PluginSettings):
    """``retention_days``: archived objects expire this long after they are written (≥ 400).
        ``glacier_transition_days``: when they move from S3 Standard to Glacier Instant Retrieval,
        which still returns them in milliseconds (PCI DSS 10.5.1: 3 months immediately available
        -- every month is). ``noncurrent_version_days``: how long an overwritten or deleted
        version is kept (≥ 400 days, like every record: a deleted or overwritten record stays
    recoverable for the year). ``teardown_principal_arns``: the IAM roles or users that alone may
    delete or overwrite archived objects and change the archive's policy, lifecycle, versioning or
    Object Lock configuration -- the principal that deploys and destroys this environment. Empty
    (the default): the principal running Terraform, as ``aws_iam_session_context`` resolves it
    (an assumed role's role ARN). ``batch_size``: messages per invocation of the consumer (how often one is
        tried before it moves to the dead-letter queue is the queue's setting, messaging's
        ``audit_max_receive_count``). ``log_buffer_seconds`` /
        ``log_buffer_mb``: how Firehose batches log events into objects."""

    retention_days: int = Field(default=400, ge=MIN_RETENTION_DAYS, le=3650)
    glacier_transition_days: int = Field(default=90, ge=1)
    noncurrent_version_days: int = Field(default=MIN_RETENTION_DAYS, ge=MIN_RETENTION_DAYS, le=3650)
    teardown_principal_arns: unique_strings(
        PRINCIPAL_ARN, "an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)"
    ) = ()
    batch_size: int = Field(default=10, ge=1, le=MAX_FIFO_BATCH_SIZE)
    consumer_memory_mb: int = Field(default=512, ge=512, le=10240)  # the seed's minimum (PP-LAMBDA-MEMORY)
    consumer_timeout_seconds: int = Field(default=20, ge=3, le=900)
    consumer_reserved_concurrency: int = Field(default=2, ge=1)
    consumer_log_retention_days: LogRetentionDays = 30
    log_buffer_seconds: int = Field(default=300, ge=60, le=900)
    log_buffer_mb: int = Field(default=5, ge=1, le=128)

    @model_validator(mode="after")
    def _transition_before_expiry(self) -> AuditSettings:
        """glacier_transition_days < retention_days"""
        if self.glacier_transition_days >= self.retention_days:
            raise ValueError(
                f"glacier_transition_days ({self.glacier_transition_days}) must be less than "
                f"retention_days ({self.retention_days})"
            )
        return self
