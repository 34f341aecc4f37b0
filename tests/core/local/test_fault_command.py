"""`payments-platform local fault add | list | clear`: rules written to the run directory, listed
with their hits, cleared; bad rules are one line and a non-zero exit, and write nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from payments_platform.core.local.faults import FaultError, FaultRule, read_rules

from cli_runner import run_cli

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO / "environments.toml", tmp_path / "environments.toml")
    return tmp_path


def fault(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--config", workdir / "environments.toml", "local", "fault", *args, cwd=workdir)


def test_add_list_clear_round_trip(workdir):
    added = fault(workdir, "add", "dynamodb:TransactWriteItems", "--fail-after", "internal", "--count", "3")
    assert added.returncode == 0, added.stderr
    assert "dynamodb:TransactWriteItems: perform, then fail with internal, 3×" in added.stdout
    killed = fault(workdir, "add", "function:transaction-processor-*", "--kill", "--delay-ms", "150")
    assert killed.returncode == 0, killed.stderr
    run_dir = workdir / ".payments-local"
    [first, second] = read_rules(run_dir)
    assert (first.kind, first.count, second.kind, second.action) == ("error_after", 3, "kill", "Invoke")
    (run_dir / "faults.log").write_text(json.dumps({"fault": first.id, "kind": "error_after"}) + "\n")
    listed = fault(workdir, "list", "--json")
    assert [(r["id"], r["hits"]) for r in json.loads(listed.stdout)] == [(first.id, 1), (second.id, 0)]
    assert fault(workdir, "clear", first.id).stdout.strip() == f"cleared 1 fault rule(s): {first.id}"
    assert [r.id for r in read_rules(run_dir)] == [second.id]
    assert fault(workdir, "clear").returncode == 0 and read_rules(run_dir) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "dynamodb", "--error", "throttling"], "expected SERVICE:ACTION or function:NAME"),
        (["add", "sqs:SendMessage", "--kill"], "--kill and --fail-cold-start apply to functions"),
        (["add", "function:x", "--error", "internal"], "a function takes --kill or --fail-cold-start"),
        (["add", "sns:Publish", "--error", "throttling", "--probability", "0"], "probability must be in (0, 1]"),
        (["add", "sns:Publish", "--stall", "0"], "a stall needs a positive delay"),
        (["clear", "f-nothere"], "no such fault: f-nothere"),
    ],
)
def test_a_bad_rule_is_one_line_and_writes_nothing(workdir, args, message):
    result = fault(workdir, *args)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert read_rules(workdir / ".payments-local") == []


def test_an_unknown_field_in_the_rules_file_is_refused_by_name():
    with pytest.raises(FaultError, match="unknown fault field"):
        FaultRule.from_json({"kind": "stall", "service": "sqs", "delay_ms": 5, "bogus": 1})


def test_named_errors_take_each_services_own_code_and_status():
    assert FaultRule("error", "sqs", error="throttling").error_for("sqs") == ("RequestThrottled", 400)
    assert FaultRule("error", "s3", error="throttling").error_for("s3") == ("SlowDown", 503)
    assert FaultRule("error", "sns", error="access-denied").error_for("sns") == ("AuthorizationError", 403)
    assert FaultRule("error", "kms", error="KMSInvalidStateException").error_for("kms") == (
        "KMSInvalidStateException",
        400,
    )
