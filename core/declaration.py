"""What a plugin tells the host about itself before anything is built."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from payments_platform.core.keys import ContextKey


class PluginSettings(BaseModel):
    """Base for a plugin's settings: unknown keys and wrong types are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# The only retention periods CloudWatch Logs accepts; anything else fails at apply time.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


def _log_retention(days: int) -> int:
    """one of the retention periods CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653 days)"""
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"{days} is not a CloudWatch Logs retention period ({', '.join(map(str, sorted(LOG_RETENTION_DAYS)))})"
        )
    return days


LogRetentionDays = Annotated[int, AfterValidator(_log_retention)]
"""A settings field type for log retention: validated against what CloudWatch accepts."""


def unique_strings(pattern: str, what: str) -> Any:
    """A settings field type: a list of distinct strings each matching ``pattern`` (TOML
    arrays arrive as lists; the frozen settings keep a tuple). ``what`` names one item in
    error messages, e.g. ``"an email address"``."""
    compiled = re.compile(pattern)

    def to_tuple(value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    def check(values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not compiled.match(value):
                raise ValueError(f"{value!r} is not {what}")
        if len(set(values)) != len(values):
            twice = next(v for v in values if values.count(v) > 1)
            raise ValueError(f"{twice!r} is listed twice")
        return values

    check.__doc__ = f"distinct items, each {what}"
    return Annotated[tuple[str, ...], BeforeValidator(to_tuple), AfterValidator(check)]


class NoSettings(PluginSettings):
    """For plugins that take no settings."""


@dataclass(frozen=True)
class PluginDeclaration:
    """A plugin's contract with the host.

    ``provides`` are context keys this plugin publishes (it must publish each by the end
    of the ``wiring`` phase); ``requires`` must be provided by another enabled plugin, or
    the build fails before any resource is created; ``uses`` are optional requirements:
    ordered like ``requires`` when present, ``None`` from ``ctx.get`` when not.

    ``emulated_services`` are the AWS services this plugin's resources call, as the AWS
    provider's ``endpoints`` keys (e.g. ``"wafv2"``): in an environment with an
    ``aws_endpoint`` (a local emulator), the core points the provider's endpoint for each
    enabled plugin's services at the emulator. A service id the provider does not know is
    refused when the plugin is loaded.
    ``requires_api`` is the range of plugin API versions the plugin was written for (a PEP 440
    specifier such as ``">=1.0,<2"``; empty accepts any): the host refuses to load it when
    ``PLUGIN_API_VERSION`` is outside (core/api_version.py says what bumps which part).
    ``checkov_baseline`` is the path of a TOML file the distribution ships with its reviewed
    checkov findings (``str(Path(__file__).with_name("checkov-baseline.toml"))``): entries as in
    compliance/checkov-baseline.toml, ``environments`` optional (default: wherever the plugin is
    enabled), at most 5, each naming only resources the plugin builds; the gate says whose entry
    excused what.
    """

    # the entry-point name environments enable
    name: str
    # one line for `payments-platform plugins` and the reference
    description: str
    # keys this plugin publishes, each by the end of wiring
    provides: tuple[ContextKey[Any], ...] = ()
    # keys another enabled plugin must provide; this plugin runs after it
    requires: tuple[ContextKey[Any], ...] = ()
    # keys read when present (ctx.get); ordered like requires
    uses: tuple[ContextKey[Any], ...] = ()
    # the PluginSettings model ctx.settings is validated with
    settings: type[PluginSettings] = NoSettings
    # AWS provider endpoint keys of the services its resources call
    emulated_services: tuple[str, ...] = ()
    # the plugin API range it was written for, e.g. ">=1.1,<2"
    requires_api: str = ""
    # the distribution's reviewed checkov findings (a TOML file it ships, as the platform's
    # compliance/checkov-baseline.toml; at most 5 entries, each on its own resources)
    checkov_baseline: str = ""
