"""The CLI as a process: a plugin's failure in one line naming its file and line, the full
traceback with --debug or PAYMENTS_DEBUG=1, and a closed stdout pipe ends quietly."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from plugin_distributions import install_distribution

from cli_runner import CLI, run_cli

REPO = Path(__file__).resolve().parents[3]
# The one-line expectations hold only when the developer's shell is not asking for tracebacks.
WITHOUT_DEBUG = {key: value for key, value in os.environ.items() if key != "PAYMENTS_DEBUG"}

BROKEN_PLUGIN = """\
from payments_platform.core import PluginDeclaration, hookimpl


def _check_budget(settings):
    raise RuntimeError("budget table unreachable")


@hookimpl
def payments_declare():
    return PluginDeclaration(name="fraud", description="raises while configuring")


@hookimpl
def payments_configure(settings, environment):
    _check_budget(settings)
"""

UNDECLARED_KEY_PLUGIN = """\
from payments_platform.core import PluginDeclaration, hookimpl, keys


@hookimpl
def payments_declare():
    return PluginDeclaration(name="fraud", description="reads a key it never declared")


@hookimpl
def payments_foundation(ctx):
    network = ctx[keys.NETWORK]
"""

UNMARKED_PLUGIN = """\
from payments_platform.core import PluginDeclaration, hookimpl


@hookimpl
def payments_declare():
    return PluginDeclaration(name="fraud", description="forgot a marker")


def payments_resources(ctx):
    pass
"""


def install_plugin(site: Path, source: str) -> None:
    """An installed distribution 'payments-fraud' (a .dist-info on the path) with entry point 'fraud'."""
    site.mkdir()
    (site / "payments_fraud_plugin.py").write_text(source)
    install_distribution(site, "payments-fraud", "0.3.0", {"fraud": "payments_fraud_plugin"})


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """In a process of its own: the plugin is installed on that interpreter's path."""
    site = {"PYTHONPATH": str(tmp_path / "site"), "PAYMENTS_DEBUG": None}
    return run_cli(*args, cwd=tmp_path, env={**site, **(env or {})}, process=True)


@pytest.fixture
def fraud_config(tmp_path):
    (tmp_path / "environments.toml").write_text('[defaults]\nplugins = ["fraud"]\n[environments.dev]\n')
    return tmp_path


def test_hook_exception_is_one_line_naming_the_plugins_innermost_file_and_line(fraud_config):
    install_plugin(fraud_config / "site", BROKEN_PLUGIN)
    result = run(fraud_config, "synth", "--synth-dir", "out")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    plugin_file = fraud_config / "site" / "payments_fraud_plugin.py"
    assert result.stderr == (
        "payments-platform: error: plugin 'fraud' (distribution payments-fraud 0.3.0) failed in payments_configure "
        "at site/payments_fraud_plugin.py:5: RuntimeError: budget table unreachable\n"
    ), result.stderr
    assert plugin_file.read_text().splitlines()[4].strip() == 'raise RuntimeError("budget table unreachable")'


def test_host_check_failing_inside_a_hook_names_the_plugins_line(fraud_config):
    install_plugin(fraud_config / "site", UNDECLARED_KEY_PLUGIN)
    result = run(fraud_config, "synth", "--synth-dir", "out")
    assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
    assert result.stderr == (
        "payments-platform: error: plugin 'fraud' read 'network.network' without declaring it in 'requires' or 'uses' "
        "(in payments_foundation at site/payments_fraud_plugin.py:11)\n"
    )


@pytest.mark.parametrize(
    "args, env",
    [(["--debug", "synth"], {}), (["synth", "--debug"], {}), (["synth"], {"PAYMENTS_DEBUG": "1"})],
    ids=["flag-before-command", "flag-after-command", "environment-variable"],
)
def test_debug_prints_the_full_traceback_through_the_plugins_frames(fraud_config, args, env):
    install_plugin(fraud_config / "site", BROKEN_PLUGIN)
    result = run(fraud_config, *args, "--synth-dir", "out", env=env)
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert 'payments_fraud_plugin.py", line 5, in _check_budget' in result.stderr
    assert result.stderr.endswith("RuntimeError: budget table unreachable\n")


def test_unmarked_payments_function_is_one_line_with_the_fix(fraud_config):
    install_plugin(fraud_config / "site", UNMARKED_PLUGIN)
    result = run(fraud_config, "plugins")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr == (
        "payments-platform: error: plugin 'fraud' (distribution payments-fraud 0.3.0): payments_resources "
        "(site/payments_fraud_plugin.py:9) is not marked @hookimpl, so it would never be called: add @hookimpl\n"
    )


def test_stdout_closed_before_any_output_exits_141_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write fails with EPIPE
    try:
        result = subprocess.run(
            [*CLI, "plugins", "--json"],
            cwd=REPO,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env=WITHOUT_DEBUG,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")


def test_plugins_json_piped_into_head_shows_no_traceback():
    command = f"{shlex.join(CLI)} plugins --json | head -1"
    result = subprocess.run(
        ["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=120, env=WITHOUT_DEBUG
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "{\n", "")


def test_broken_pipe_from_elsewhere_is_still_an_internal_error(monkeypatch):
    from payments_platform.core.cli import authoring

    def failing(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(authoring, "cmd_plugins", failing)
    result = run_cli("plugins", env={"PAYMENTS_DEBUG": None})
    assert result.returncode == 70
    assert result.stderr == (
        "payments-platform: internal error: BrokenPipeError: [Errno 32] Broken pipe "
        "(run with --debug or PAYMENTS_DEBUG=1 for the traceback)\n"
    )


def test_internal_error_with_debug_shows_the_traceback_and_no_hint(monkeypatch):
    from payments_platform.core.cli import authoring

    def failing(args):
        raise KeyError("bug")

    monkeypatch.setattr(authoring, "cmd_plugins", failing)
    result = run_cli("plugins", "--debug")
    assert result.returncode == 70
    err = result.stderr
    assert "Traceback (most recent call last)" in err and 'raise KeyError("bug")' in err
    assert err.endswith("payments-platform: internal error: KeyError: 'bug'\n")
