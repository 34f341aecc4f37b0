"""The local runner of deployed EventBridge Scheduler schedules."""

from __future__ import annotations

import asyncio
import json

import boto3
import pytest
from moto import mock_aws

from payments_platform.core.local.lambdafn.schedules import LocalSchedule, interval_of, read_schedules, run_schedule

ROLE = "arn:aws:iam::123456789012:role/scheduler"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:{}"


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("cron(0 * * * ? *)", None),
        ("rate(1 week)", None),
    ],
)
def test_rate_expressions_give_the_interval_and_others_none(expression, seconds):
    assert interval_of(expression) == seconds


def test_only_enabled_rate_schedules_of_local_functions_are_run_and_the_rest_is_reported(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        scheduler = boto3.client("scheduler", region_name="eu-west-1")

        def schedule(name, function, expression="rate(1 minute)", state="ENABLED"):
            scheduler.create_schedule(
                Name=name,
                ScheduleExpression=expression,
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={"Arn": FUNCTION_ARN.format(function), "RoleArn": ROLE},
                State=state,
            )

        schedule("reconciler-local", "transaction-reconciler-local")
        schedule("hourly-cron", "transaction-reconciler-local", expression="cron(0 * * * ? *)")
        schedule("paused", "transaction-reconciler-local", state="DISABLED")
        schedule("elsewhere", "someone-elses-function")
        said: list[str] = []
        found = read_schedules(scheduler, {"transaction-reconciler-local"}, said.append)
    assert found == [LocalSchedule("reconciler-local", "transaction-reconciler-local", 60)]
    assert said == ["schedule hourly-cron: 'cron(0 * * * ? *)' is not run locally (rate() only)"]


def test_a_schedule_invokes_its_function_with_a_scheduler_event_and_survives_a_failed_run():
    calls: list[tuple[str, dict]] = []
    said: list[str] = []

    async def invoke(name, payload, trace):
        calls.append((name, json.loads(payload)))
        if len(calls) == 1:
            raise RuntimeError("function failed")
        return b"{}"

    async def two_runs():
        task = asyncio.create_task(run_schedule(LocalSchedule("s", "fn", 0), invoke, said.append))
        while len(calls) < 2:
            await asyncio.sleep(0.001)
        task.cancel()

    asyncio.run(two_runs())
    assert [name for name, _ in calls[:2]] == ["fn", "fn"]
    assert calls[0][1]["source"] == "aws.scheduler" and calls[0][1]["resources"] == ["s"]
    assert said[0] == "schedule s: fn failed: RuntimeError: function failed"
    assert said[1] == "schedule s: invoked fn"
