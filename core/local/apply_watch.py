"""Watching the emulator while Terraform deploys into it: a gap in it fails the apply at once.

The provider retries a 5xx or a refused connection for minutes; an action moto does not
implement never succeeds. The emulator journals every failed action (emulator/failure_journal.py);
this reads the journal, and Terraform's log for what it is working on, to name the resource and
the plugin that cannot be deployed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from payments_platform.core.local.emulator.failure_journal import Failure, read_failures
from payments_platform.core.local.processes import alive

FAILURE_JOURNAL = "emulator-failures.jsonl"
# The emulator failing one action this often (the provider retrying a 5xx) means it will not succeed.
REPEATED_FAILURES = 3


class EmulatorWatch:
    """Reads the emulator's failure journal while Terraform works: a NotImplemented, or the same
    action failing REPEATED_FAILURES times, is a gap the provider's retries will never get past.
    An emulator that is gone is one too: the provider would retry its refused connections for
    about a minute and a half before Terraform gave up."""

    def __init__(
        self,
        journal: Path,
        config: dict[str, Any],
        environment: str,
        terraform_log: Path,
        emulator_pid: int | None = None,
    ) -> None:
        self.journal, self.config, self.environment, self.terraform_log = journal, config, environment, terraform_log
        self.emulator_pid = emulator_pid
        self._offset = 0
        self._counts: dict[tuple[str, str, int], int] = {}
        self.first_seen: float | None = None

    def problem(self) -> str | None:
        if self.emulator_pid is not None and not alive(self.emulator_pid):
            return (
                f"terraform apply failed: the emulator (pid {self.emulator_pid}) stopped while Terraform was "
                f"deploying into it (its log: {self.journal.parent / 'emulator.log'}); `local up` starts a new one"
            )
        failures, self._offset = read_failures(self.journal, self._offset)
        for failure in failures:
            key = (failure.service, failure.action, failure.status)
            self._counts[key] = self._counts.get(key, 0) + 1
            if self.first_seen is None:
                self.first_seen = failure.at
            if failure.not_implemented or self._counts[key] >= REPEATED_FAILURES:
                return self._explain(failure)
        return None

    def _explain(self, failure: Failure) -> str:
        resources = self._resources_calling(failure.action)
        plugins = sorted({plugin for _, plugin in resources})
        named = ", ".join(f"{address} (plugin '{plugin}')" for address, plugin in resources) or "a resource"
        what = (
            "which the emulator (moto) does not implement"
            if failure.not_implemented
            else f"which the emulator answered {failure.status} {self._counts[(failure.service, failure.action, failure.status)]} times"
        )
        disable = f"`disable = {json.dumps(plugins)}`" if plugins else "`disable = [...]`"
        return (
            f"the emulator cannot deploy {named}: it calls {failure.service_action}, {what}. Disable the plugin in "
            f"environment '{self.environment}' ({disable} under [environments.{self.environment}] in "
            "environments.toml), or teach the emulator (a moto patch in core/local/emulator, with an Upstream: note)"
        )

    def _resources_calling(self, action: str) -> list[tuple[str, str]]:
        from payments_platform.core.host.policy import iter_resources
        from payments_platform.core.local.emulator.coverage import types_calling

        types = set(types_calling(action))
        candidates = [r for r in iter_resources(self.config) if r.type in types]
        working = _in_progress(self.terraform_log)
        narrowed = [r for r in candidates if r.address in working] or candidates
        if not narrowed:  # an action the coverage table does not list: what Terraform is waiting on
            narrowed = [r for r in iter_resources(self.config) if r.address in working]
        return [(r.address, r.plugin) for r in narrowed]


_TERRAFORM_PROGRESS = re.compile(r"^(\S+): (Creating\.\.\.|Still creating|Creation complete|Modifying|Still modifying)")


def _in_progress(terraform_log: Path) -> set[str]:
    """Addresses Terraform has started and not finished creating or modifying, from its log."""
    started: set[str] = set()
    try:
        text = terraform_log.read_text(errors="replace")
    except OSError:
        return started
    for line in text.splitlines():
        match = _TERRAFORM_PROGRESS.match(line)
        if match is None:
            continue
        address = match[1].split("[", 1)[0]
        if match[2] == "Creation complete":
            started.discard(address)
        else:
            started.add(address)
    return started
