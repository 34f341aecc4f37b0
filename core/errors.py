"""One error hierarchy for the platform: each carries a one-line message for the CLI."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PlatformError(Exception):
    """Base class: anything the CLI turns into one clear line and a non-zero exit."""

    exit_code = 2
    # Set by the host when the error escaped a plugin's hook ("in payments_wiring at
    # payments_fraud/plugin.py:12"): the CLI adds it to the line, str() stays the message.
    raised_in: str = ""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    @property
    def line(self) -> str:
        """What a command prints: the message, and where in a plugin it was raised when known."""
        return f"{self.message} ({self.raised_in})" if self.raised_in else self.message


class ConfigError(PlatformError):
    """The environments file, a plugin's settings or a CLI argument is wrong."""


class PluginLoadError(PlatformError):
    """An enabled plugin is missing, fails to import or breaks the hook contract."""


class RequirementError(PlatformError):
    """A plugin requires a context key that no enabled plugin provides."""


class ContextError(PlatformError):
    """A plugin read or wrote the shared context against its declaration."""


class RegistrationError(PlatformError):
    """A plugin registered something invalid (a duplicate, a wildcard grant, ...)."""


class PolicyViolation(PlatformError):
    """The synthesized configuration breaks a platform policy rule."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        lines = "\n".join(f"  - {v}" for v in violations)
        super().__init__(f"{len(violations)} policy violation(s):\n{lines}")


class TerraformError(PlatformError):
    """The terraform binary is missing or a terraform command failed."""


class PluginHookError(PlatformError):
    """A plugin's hook raised an unexpected exception (a bug in the plugin)."""


class ComplianceError(PlatformError):
    """The checkov gate failed, its baseline is invalid, or a control cannot be evidenced."""


class PluginDeprecationWarning(FutureWarning):
    """A plugin uses something its plugin API range still allows but a later major version
    refuses (shown by default: it is meant for the plugin's author)."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest candidate, or '' when none is close."""
    match = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
