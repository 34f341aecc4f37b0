"""A plugin's deprecation warning reaches the CLI user as one line naming the plugin's file:line."""

from __future__ import annotations

import os
import warnings

from payments_platform.core.cli import authoring
from payments_platform.core.errors import PluginDeprecationWarning

from cli_runner import run_cli


def test_plugin_deprecation_is_one_line_with_the_plugins_location(monkeypatch, tmp_path):
    plugin_file = tmp_path / "payments_fraud" / "plugin.py"

    def command(args):
        warnings.warn_explicit(
            "plugin 'fraud' granted 'X' by name: use the key", PluginDeprecationWarning, str(plugin_file), 12
        )
        return 0

    monkeypatch.setattr(authoring, "cmd_docs", command)
    result = run_cli("docs", cwd=os.getcwd())
    assert result.returncode == 0
    assert result.stderr == (
        "payments-platform: warning: plugin 'fraud' granted 'X' by name: use the key "
        f"(at {os.path.relpath(plugin_file)}:12)\n"
    )
