"""What a plugin tells the host about itself before anything is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from .keys import ContextKey


class PluginSettings(BaseModel):
    """Base for a plugin's settings: unknown keys and wrong types are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NoSettings(PluginSettings):
    """For plugins that take no settings."""


@dataclass(frozen=True)
class PluginDeclaration:
    """A plugin's contract with the host.

    ``provides`` are context keys this plugin publishes (it must publish each by the end
    of the ``wiring`` phase); ``requires`` must be provided by another enabled plugin, or
    the build fails before any resource is created; ``uses`` are optional requirements:
    ordered like ``requires`` when present, ``None`` from ``ctx.get`` when not.
    """

    name: str
    description: str
    provides: tuple[ContextKey[Any], ...] = ()
    requires: tuple[ContextKey[Any], ...] = ()
    uses: tuple[ContextKey[Any], ...] = ()
    settings: type[PluginSettings] = NoSettings
