"""plan, drift and state: bad input is one line and exit 2, before terraform runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli_runner import run_cli

REPO = Path(__file__).resolve().parents[3]
STATE = (
    '[environments.dev.state]\nbucket = "acme-tfstate"\nkey_prefix = "pp"\nregion = "us-east-1"\nkms_key_id = "{kms}"\n'
)


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd)


def assert_one_line_error(result: subprocess.CompletedProcess[str], contains: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert contains in result.stderr


@pytest.mark.parametrize("action", ["bootstrap", "migrate", "unlock"])
def test_state_command_on_an_environment_with_local_state_says_what_to_add(action: str):
    result = run("state", action, "--env", "local")
    assert_one_line_error(result, "environment 'local' keeps local state: add [environments.local.state]")


def test_bootstrap_refuses_a_key_arn_it_cannot_create(tmp_path: Path):
    config = tmp_path / "environments.toml"
    arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    config.write_text('[defaults]\nplugins = ["storage"]\n[environments.dev]\n' + STATE.format(kms=arn))
    result = run("--config", str(config), "state", "bootstrap", "--env", "dev", "--synth-dir", str(tmp_path / "out"))
    assert_one_line_error(result, "bootstrap creates the key under an alias")


def test_plan_of_an_unknown_environment_is_one_line():
    assert_one_line_error(run("plan", "--env", "nope"), "unknown environment 'nope'")


def test_plan_errors_exit_1_with_detailed_exitcode_as_terraform_does():
    result = run("drift", "--env", "nope", "--detailed-exitcode")
    assert result.returncode == 1 and "unknown environment 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_bad_state_table_is_one_line(tmp_path: Path):
    config = tmp_path / "environments.toml"
    config.write_text('[defaults]\nplugins = ["storage"]\n[environments.dev]\n' + STATE.format(kms="not-a-key"))
    assert_one_line_error(run("--config", str(config), "plan", "--env", "dev"), "kms_key_id 'not-a-key'")


def test_unlock_without_lock_id_is_an_option_not_an_error():
    result = run("state", "unlock", "--help")
    assert result.returncode == 0 and "--lock-id" in result.stdout
