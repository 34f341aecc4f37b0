"""The CLI: one clear line and exit 2 for bad input, never a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cli_runner import run_cli

REPO = Path(__file__).resolve().parents[3]


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd)


def assert_one_line_error(result, contains: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert contains in result.stderr


def test_unknown_environment_is_one_line(tmp_path):
    assert_one_line_error(
        run("synth", "--env", "nope", "--synth-dir", str(tmp_path / "o")), "unknown environment 'nope'"
    )


def test_missing_config_file_is_one_line(tmp_path):
    assert_one_line_error(run("--config", str(tmp_path / "none.toml"), "plugins"), "config file not found")


def test_invalid_suffix_in_config_is_one_line(tmp_path):
    bad = tmp_path / "environments.toml"
    bad.write_text('[defaults]\nplugins=["network"]\n[environments.dev]\nsuffix="Dev_1"\n')
    assert_one_line_error(run("--config", str(bad), "plugins"), "suffix 'Dev_1' is invalid")


def test_unknown_plugin_in_config_is_one_line(tmp_path):
    bad = tmp_path / "environments.toml"
    bad.write_text('[defaults]\nplugins=["network","fraud"]\n[environments.dev]\n')
    assert_one_line_error(run("--config", str(bad), "plugins"), "fraud")


def test_failed_synth_leaves_previous_output_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "marker").write_text("previous synth")
    bad = tmp_path / "environments.toml"
    bad.write_text(
        '[defaults]\nplugins=["network"]\n[environments.dev]\n[environments.dev.settings.network]\navailability_zones=1\n'
    )
    assert_one_line_error(run("--config", str(bad), "synth", "--synth-dir", str(out)), "availability_zones")
    assert (out / "marker").read_text() == "previous synth"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".synth-")] == []


def test_plugins_json_lists_enabled_plugins_with_hooks(tmp_path):
    config = tmp_path / "environments.toml"
    config.write_text('[defaults]\nplugins=["network"]\n[environments.dev]\n')
    result = run("--config", str(config), "plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    assert rows["network"]["enabled"] and "payments_foundation" in rows["network"]["hooks"]
    assert rows["network"]["distribution"] == "payments-platform"
    assert rows["storage"]["enabled"] is False and "hooks" not in rows["storage"]


def test_plugins_json_names_the_plugin_api_version_and_each_requirement(tmp_path):
    from payments_platform.core import PLUGIN_API_VERSION

    config = tmp_path / "environments.toml"
    config.write_text('[defaults]\nplugins=["network"]\n[environments.dev]\n')
    result = run("--config", str(config), "plugins", "--json")
    listing = json.loads(result.stdout)
    assert listing["plugin_api_version"] == PLUGIN_API_VERSION
    network = next(row for row in listing["plugins"] if row["name"] == "network")
    assert network["requires_api"] == ""  # ours ship with the core: any version


@pytest.mark.parametrize("args", [["synth", "--env"], ["frobnicate"], []])
def test_bad_arguments_exit_2_without_traceback(args):
    result = run(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_deploy_of_unknown_environment_is_one_line(tmp_path):
    assert_one_line_error(
        run("deploy", "--env", "nope", "--synth-dir", str(tmp_path / "o")), "unknown environment 'nope'"
    )


def test_remote_emulator_endpoint_is_refused(tmp_path):
    bad = tmp_path / "environments.toml"
    bad.write_text('[defaults]\nplugins=["network"]\n[environments.dev]\naws_endpoint="http://10.0.0.5:4566"\n')
    assert_one_line_error(run("--config", str(bad), "plugins"), "must be a loopback URL")


def test_every_command_group_module_registers_itself_and_is_listed():
    import pkgutil

    from payments_platform.core import cli
    from payments_platform.core.cli import main as cli_main

    support = {"main", "options", "registry"}
    subgroups = {"local_fault"}  # `local fault`: registered by the local group
    groups = {m.name for m in pkgutil.iter_modules(cli.__path__)} - support - subgroups
    assert {g.__name__.rsplit(".", 1)[1] for g in cli_main.GROUPS} == groups
    assert all(callable(getattr(g, "register", None)) for g in cli_main.GROUPS)


@pytest.mark.parametrize(
    "command",
    [
        ["synth"],
        ["validate"],
        ["deploy"],
        ["destroy"],
        ["plan", "--synth-out", "x"],
        ["state", "migrate", "--synth-out", "x"],
    ],
)
def test_the_synth_directory_is_synth_dir_everywhere_and_old_spellings_say_so(command):
    args = command if "--synth-out" in command else [*command, "--out", "x"]
    result = run(*args)
    assert result.returncode == 2
    assert "is now --synth-dir (--out always names a file a command writes)" in result.stderr
    assert "Traceback" not in result.stderr
