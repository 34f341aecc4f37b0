"""EventBridge Scheduler, locally: the emulator stores schedules but never fires them (moto has
no clock), so the gateway process runs each deployed, enabled ``rate(...)`` schedule whose target
is one of the local functions, invoking it as Scheduler would. Read back from the emulator, like
the API: what is deployed runs, not what the template meant.

Not emulated: cron/at expressions (reported, not run), flexible windows, the target's retry policy
and the schedule role's permission to invoke (the function still runs with its own identity)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class LocalSchedule:
    name: str
    function_name: str
    interval_seconds: int


def interval_of(expression: str) -> int | None:
    """Seconds between runs of a ``rate(...)`` expression; None for anything else."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def read_schedules(scheduler: Any, function_names: set[str], say: Callable[[str], None]) -> list[LocalSchedule]:
    """The enabled schedules (default group) whose target is a local function."""
    found = []
    for summary in scheduler.list_schedules().get("Schedules", []):
        schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
        target = schedule.get("Target", {}).get("Arn", "")
        function_name = target.rsplit(":function:", 1)[-1] if ":function:" in target else None
        if schedule.get("State") != "ENABLED" or function_name not in function_names:
            continue
        interval = interval_of(schedule.get("ScheduleExpression", ""))
        if interval is None:
            say(f"schedule {schedule['Name']}: {schedule.get('ScheduleExpression')!r} is not run locally (rate() only)")
            continue
        found.append(LocalSchedule(schedule["Name"], function_name, interval))
    return sorted(found, key=lambda s: s.name)


def scheduler_event(schedule: LocalSchedule) -> bytes:
    """What EventBridge Scheduler's Lambda target receives when no input is set."""
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "source": "aws.scheduler",
            "detail-type": "Scheduled Event",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resources": [schedule.name],
            "detail": {},
        }
    ).encode()


async def run_schedule(
    schedule: LocalSchedule,
    invoke: Callable[[str, bytes, str], Awaitable[bytes]],
    say: Callable[[str], None],
) -> None:
    """Invoke the schedule's function every interval until cancelled; a failed run is reported
    and the next one comes on time."""
    while True:
        await asyncio.sleep(schedule.interval_seconds)
        trace = f"Root=1-{int(datetime.now(UTC).timestamp()):08x}-{uuid.uuid4().hex[:24]};Sampled=1"
        try:
            await invoke(schedule.function_name, scheduler_event(schedule), trace)
            say(f"schedule {schedule.name}: invoked {schedule.function_name}")
        except Exception as failure:  # the function's own error is in its log
            say(f"schedule {schedule.name}: {schedule.function_name} failed: {type(failure).__name__}: {failure}")
