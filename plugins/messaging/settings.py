"""Settings the messaging plugin accepts (``[environments.<env>.settings.messaging]``)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from payments_platform.core import PluginSettings, unique_strings

# Deliberately simple: one "@", a dotted domain, no spaces. SNS does the real check by mailing it.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


def subscription_id(email: str) -> str:
    """The construct id of an address's subscription: stable while the address is listed."""
    return "email_subscription_" + re.sub(r"[^a-z0-9]+", "_", email.lower()).strip("_")


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


class MessagingSettings(PluginSettings):
    """``notification_email`` (plus any ``extra_notification_emails``) is subscribed to the
    notifications topic. SNS emails each address a confirmation link; until it is clicked the
    subscription stays PendingConfirmation and receives nothing. Terraform destroy still
    succeeds: it drops pending subscriptions from state (AWS deletes them after three days).

    ``high_throughput_fifo``: the runtime groups audit messages per API client, so the queue
    uses FIFO high-throughput mode (deduplication and throughput limit per message group).
    Deduplication ids are transaction ids, unique across groups, so nothing is lost by
    scoping deduplication to a group. ``false`` selects the classic per-queue limits.

    ``kms_data_key_reuse_period_seconds``: how long SQS reuses a data key before calling KMS
    again (60 s to 24 h); 5 minutes trades a little key exposure for far fewer KMS calls.

    ``audit_max_receive_count``: how often the audit queue's consumer may receive a message
    without deleting it before SQS moves it to the dead-letter queue.
    """

    notification_email: str = "admin@example.com"
    extra_notification_emails: unique_strings(_EMAIL.pattern, "an email address") = ()
    high_throughput_fifo: bool = True
    kms_data_key_reuse_period_seconds: int = Field(default=300, ge=60, le=86400)
    audit_max_receive_count: int = Field(default=5, ge=1, le=1000)

    @field_validator("notification_email")
    @classmethod
    def _notification_email(cls, value: str) -> str:
        """an email address"""
        return _check_email(value)

    @model_validator(mode="after")
    def _distinct_subscriptions(self) -> MessagingSettings:
        """every notification address listed once (case-insensitively)"""
        seen: dict[str, str] = {}
        for email in self.notification_emails:
            first = seen.setdefault(subscription_id(email), email)
            if first is not email:
                raise ValueError(f"{email!r} repeats {first!r}: each address is subscribed once")
        return self

    @property
    def notification_emails(self) -> tuple[str, ...]:
        return (self.notification_email, *self.extra_notification_emails)
