"""``local smoke``: the platform, up on this machine, passes the enabled plugins' checks -- then goes away.

The checks are the plugins' (``payments_smoke_checks``: the api plugin takes a payment end to
end); the core adds its own last: ``terraform plan`` shows no changes, and after ``local down``
the emulator holds none of the deployment's resources. Each check is one step with its time; the
first failing step ends the checks, every registered cleanup runs, and the run is always taken down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from payments_platform.core.deployment_checks import CheckFailed, SmokeCheck
from payments_platform.core.local.api_hooks import deployed_plugins, local_deployment
from payments_platform.core.local.leftovers import leftovers
from payments_platform.core.local.lifecycle import LocalRun, RunRecord, down, up
from payments_platform.core.local.processes import emulator_client

# The name the CLI's own check (the plan) raises; a plugin's check raises the contract's CheckFailed.
SmokeFailure = CheckFailed
Say = Callable[[str], None]


def run_checks(say: Say, checks: list[tuple[str, SmokeCheck]]) -> bool:
    """Each (plugin, check) in order until the first failure; True when all passed."""
    for plugin, check in checks:
        started = time.perf_counter()
        try:
            outcome = check.run()
        except CheckFailed as failure:
            say(f"✗ {check.name}: {failure}")
            return False
        except Exception as exc:  # a check that broke is a failed smoke run, not a traceback
            by = f" (a check of plugin '{plugin}')" if plugin else ""
            say(f"✗ {check.name}: {type(exc).__name__}: {exc}{by}")
            return False
        say(f"✓ {check.name}: {outcome} ({(time.perf_counter() - started) * 1000:.0f} ms)")
    return True


def run_cleanups(say: Say, checks: list[tuple[str, SmokeCheck]]) -> None:
    for plugin, check in reversed(checks):
        if check.cleanup is None:
            continue
        try:
            check.cleanup()
        except Exception as exc:  # the emulator may be what failed
            say(f"  (plugin '{plugin}' could not clean up after {check.name!r}: {exc})")


def run_smoke(run: LocalRun, *, plan_check: Callable[[RunRecord], str], **up_options: Any) -> bool:
    """up → every plugin's check → the plan check → down; True when all passed."""
    say = run.say
    record = up(run, **up_options)
    checks: list[tuple[str, SmokeCheck]] = []
    passed = False
    try:
        plugins = deployed_plugins(up_options.get("config_path"), record.environment)
        checks = plugins.smoke_checks(local_deployment(run.run_dir, record))
        plan = SmokeCheck("terraform plan shows no changes", lambda: plan_check(record))
        passed = run_checks(say, [*checks, ("", plan)])
    finally:
        run_cleanups(say, checks)
        passed = _down_leaving_nothing(run, record) and passed
    return passed


def _down_leaving_nothing(run: LocalRun, record: RunRecord) -> bool:
    say = run.say
    clean = True

    def client(service: str) -> Any:
        assert record.endpoint is not None
        return emulator_client(service, record.endpoint, record.region)

    def nothing_left(final: RunRecord) -> None:
        nonlocal clean
        left = leftovers(client, final.suffix)
        if left:
            clean = False
            say("✗ after down, the emulator still holds: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in left.items()))
        else:
            say("✓ after down, the emulator holds none of the platform's resources")

    down(run, before_stop=nothing_left)
    if run.teardown_error:
        say(f"✗ local down could not destroy the deployment: {run.teardown_error}")
        clean = False
    return clean
