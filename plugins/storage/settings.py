"""Settings the storage plugin accepts (``[environments.<env>.settings.storage]``)."""

from __future__ import annotations

import re

from pydantic import field_validator

from payments_platform.core import PluginSettings

HASH_KEY = "transaction_id"
RANGE_KEY = "timestamp"

# DynamoDB attribute names may hold almost anything; the platform keeps TTL attribute names to
# identifiers so they read the same in the runtime, the console and the synthesized JSON.
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


class StorageSettings(PluginSettings):
    """``point_in_time_recovery``: continuous backups (35-day restore window). PCI DSS 12.10.1
    expects recovery from incidents; the configure hook refuses to switch it off in prod.

    ``ttl_enabled`` / ``ttl_attribute``: DynamoDB TTL on ``expires_at`` (epoch seconds) is on
    by default. Transaction records never set the attribute, so only items the runtime marks
    as expiring -- its idempotency records -- are ever deleted.
    """

    point_in_time_recovery: bool = True
    ttl_enabled: bool = True
    ttl_attribute: str = "expires_at"

    @field_validator("ttl_attribute")
    @classmethod
    def _ttl_attribute(cls, value: str) -> str:
        """an attribute name (letters, digits, underscores), not a key attribute of the table"""
        if not _ATTRIBUTE_NAME.match(value):
            raise ValueError(f"{value!r} is not an attribute name (letters, digits and underscores)")
        if value in (HASH_KEY, RANGE_KEY):
            # TTL on a key attribute would expire every transaction record.
            raise ValueError(f"the TTL attribute cannot be the table key attribute {value!r}")
        return value
