"""Settings the acquirer simulator accepts (``[environments.<env>.settings.acquirer-simulator]``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from payments_platform.core import LogRetentionDays, PluginSettings

MIN_MEMORY_MB = 512  # the seed's floor for every function


class SimulatorSettings(PluginSettings):
    """``latency_ms``: added to every first authorize (an acquirer's round trip; 0 answers at once).
    ``slow_answer_ms``: how late the never-in-budget card (4000000000007775) is answered -- longer
    than the api plugin's ``authorization_budget_ms``, so its outcome is read by the status query.
    ``timeout_seconds`` must cover both."""

    latency_ms: int = Field(default=0, ge=0, le=10_000)
    slow_answer_ms: int = Field(default=5_000, ge=0, le=60_000)
    memory_mb: int = Field(default=MIN_MEMORY_MB, ge=MIN_MEMORY_MB, le=10_240)
    timeout_seconds: int = Field(default=10, ge=1, le=120)
    reserved_concurrency: int = Field(default=10, ge=1)
    log_retention_days: LogRetentionDays = 30
    point_in_time_recovery: bool = True

    @model_validator(mode="after")
    def _answers_within_timeout(self) -> SimulatorSettings:
        """latency_ms + slow_answer_ms within timeout_seconds (else Lambda cuts the slow answer off)"""
        if self.latency_ms + self.slow_answer_ms >= self.timeout_seconds * 1000:
            raise ValueError(
                f"latency_ms + slow_answer_ms ({self.latency_ms + self.slow_answer_ms} ms) must be shorter than "
                f"timeout_seconds ({self.timeout_seconds} s)"
            )
        return self
