"""A plugin's deprecation warning reaches the CLI user as one line naming the plugin's file:line."""

from __future__ import annotations

import os
import warnings

from payments_platform.core.cli import authoring
from payments_platform.core.cli.main import main
from payments_platform.core.errors import PluginDeprecationWarning


def test_plugin_deprecation_is_one_line_with_the_plugins_location(monkeypatch, capsys, tmp_path):
    plugin_file = tmp_path / "payments_fraud" / "plugin.py"

    def command(args):
        warnings.warn_explicit(
            "plugin 'fraud' granted 'X' by name: use the key", PluginDeprecationWarning, str(plugin_file), 12
        )
        return 0

    monkeypatch.setattr(authoring, "cmd_docs", command)
    assert main(["docs"]) == 0
    assert capsys.readouterr().err == (
        "payments-platform: warning: plugin 'fraud' granted 'X' by name: use the key "
        f"(at {os.path.relpath(plugin_file)}:12)\n"
    )
