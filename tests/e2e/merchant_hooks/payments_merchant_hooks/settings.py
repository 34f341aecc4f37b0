"""Settings the merchant_hooks plugin accepts (``[environments.<env>.settings.merchant_hooks]``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from payments_platform.core import PluginSettings


class MerchantHooksSettings(PluginSettings):
    # Where the merchant receives the signed events (https in AWS).
    merchant_url: str
    # The function reaches the merchant over the internet: declared, so the network provides it.
    declare_egress: bool = True
    # How long a received event stays hidden while the function delivers it (> the function's timeout).
    visibility_timeout_seconds: int = Field(default=60, ge=30, le=43200)
    # Deliveries a message gets before it moves to the dead-letter queue.
    max_receive_count: int = Field(default=3, ge=1, le=10)

    @field_validator("merchant_url")
    @classmethod
    def _url(cls, value: str) -> str:
        """an http(s) URL with a host"""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"merchant_url {value!r} is not an http(s) URL")
        return value

    @property
    def merchant_host(self) -> str:
        return str(urlsplit(self.merchant_url).hostname)

    @property
    def merchant_port(self) -> int:
        parts = urlsplit(self.merchant_url)
        return parts.port or (443 if parts.scheme == "https" else 80)
