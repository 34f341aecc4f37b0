"""tests/cli_runner.py: the CLI in this process answers as it does in its own, and leaves the
test's working directory and environment as they were."""

from __future__ import annotations

import os

from cli_runner import run_cli


def test_in_process_and_in_a_process_give_the_same_status_and_output(tmp_path):
    args = ("synth", "--env", "nope", "--synth-dir", tmp_path / "o")
    inside, outside = run_cli(*args), run_cli(*args, process=True)
    assert (inside.returncode, inside.stdout, inside.stderr) == (outside.returncode, outside.stdout, outside.stderr)
    assert inside.returncode == 2 and "unknown environment 'nope'" in inside.stderr


def test_argparse_exits_become_the_status():
    assert run_cli("--help").returncode == 0
    usage = run_cli("no-such-command")
    assert usage.returncode == 2 and "invalid choice: 'no-such-command'" in usage.stderr


def test_cwd_and_environment_are_the_calls_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYMENTS_DEBUG", "1")
    before = os.getcwd()
    (tmp_path / "environments.toml").write_text("[defaults]\nplugins = []\n[environments.only]\n")
    listed = run_cli("plugins", cwd=tmp_path, env={"PAYMENTS_DEBUG": None, "ENVIRONMENT_SUFFIX": "x1"})
    assert listed.returncode == 0 and "environment only" in listed.stdout, listed.stderr
    assert (os.getcwd(), os.environ["PAYMENTS_DEBUG"], "ENVIRONMENT_SUFFIX" in os.environ) == (before, "1", False)
