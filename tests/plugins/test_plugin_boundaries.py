"""Plugins meet only through the context: no module of one plugin (or extension distribution)
imports another's, so a third-party plugin providing the same keys can replace any of ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from payments_platform.core.testing.boundaries import boundary_violations, plugin_code

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def bad_repo(tmp_path: Path) -> Path:
    """Two plugins and an extension; every import a boundary check must catch, and some it must not."""
    write(tmp_path / "plugins/api/__init__.py")
    write(tmp_path / "plugins/api/sibling.py")
    write(
        tmp_path / "plugins/api/access.py",
        "from payments_platform.core import keys\n"
        "from .sibling import x\n"
        "from . import sibling\n"
        "import boto3\n"
        "from payments_platform.plugins.storage.grants import grant_table\n",
    )
    write(tmp_path / "plugins/api/nested/__init__.py", "from ...storage import grants\n")
    write(tmp_path / "plugins/api/plugin.py", "from payments_platform.plugins import api, storage\n")
    write(tmp_path / "plugins/storage/__init__.py")
    write(tmp_path / "plugins/storage/grants.py", "def grant_table(): ...\n")
    write(tmp_path / "extensions/payments-waf/src/payments_waf/__init__.py")
    write(
        tmp_path / "extensions/payments-waf/src/payments_waf/plugin.py",
        "from payments_platform.core import hookimpl\nfrom .settings import WafSettings\n"
        "import payments_platform.plugins.api.gateway\n",
    )
    write(tmp_path / "extensions/payments-waf/src/payments_waf/settings.py")
    write(tmp_path / "extensions/payments-waf/tests/test_waf.py", "from payments_platform.plugins.api import gateway\n")
    return tmp_path


def test_imports_of_another_plugin_are_found_in_every_form(bad_repo):
    found = {
        (str(v.path.relative_to(bad_repo)), v.line, v.imported) for v in boundary_violations(plugin_code(bad_repo))
    }
    assert found == {
        ("plugins/api/access.py", 5, "payments_platform.plugins.storage.grants"),
        ("plugins/api/nested/__init__.py", 1, "payments_platform.plugins.storage"),
        ("plugins/api/plugin.py", 1, "payments_platform.plugins.storage"),
        ("extensions/payments-waf/src/payments_waf/plugin.py", 3, "payments_platform.plugins.api.gateway"),
    }


def test_violation_names_the_file_line_and_both_plugins(bad_repo):
    messages = [str(v) for v in boundary_violations(plugin_code(bad_repo))]
    assert (
        f"{bad_repo}/plugins/api/plugin.py:1: plugin 'api' imports payments_platform.plugins.storage, code of plugin 'storage'"
        in messages
    )


def test_every_plugin_and_extension_of_this_repository_is_checked():
    names = {unit.name for unit in plugin_code(REPO)}
    assert {"api", "audit", "messaging", "network", "observability", "storage"} <= names
    extensions = REPO / "extensions"
    if extensions.is_dir():
        assert {d.name for d in extensions.iterdir() if any(d.rglob("__init__.py"))} <= names


def test_no_plugin_imports_another_plugins_modules():
    assert [str(v) for v in boundary_violations(plugin_code(REPO))] == []


def test_imports_of_the_cores_machinery_are_refused_and_the_contract_is_not(tmp_path):
    from payments_platform.core.testing.boundaries import core_violations

    core = tmp_path / "core"
    for package in ("host", "local", "testing"):
        write(core / package / "__init__.py")
    write(core / "context.py")
    write(
        tmp_path / "plugins/api/access.py",
        "from payments_platform.core import PluginContext, keys\n"
        "from payments_platform.core.context import PluginContext\n"
        "from payments_platform.core.testing import synth\n"
        "from payments_platform.core.host.config import load_config\n"
        "from payments_platform.core import local\n"
        "import payments_platform.core.local.apigw.gateway\n",
    )
    write(tmp_path / "plugins/api/__init__.py")
    found = [(v.line, v.imported) for v in core_violations(plugin_code(tmp_path), core)]
    assert found == [
        (4, "payments_platform.core.host.config"),
        (5, "payments_platform.core.local"),
        (6, "payments_platform.core.local.apigw.gateway"),
    ]
    assert "not the plugin contract: import what you need from payments_platform.core" in str(
        core_violations(plugin_code(tmp_path), core)[0]
    )


def test_no_plugin_or_extension_imports_the_cores_machinery():
    from payments_platform.core.testing.boundaries import core_violations

    assert [str(v) for v in core_violations(plugin_code(REPO), REPO / "core")] == []


def test_this_repositorys_plugins_and_extensions_import_only_what_the_core_package_exports():
    """Our plugins and extension distributions set the example: ``from payments_platform.core import ...``
    and nothing deeper (the top-level contract modules stay importable for API 1.x distributions
    written against them, e.g. payments-waf 0.1's ``payments_platform.core.cdktf_adapter``)."""
    import ast

    sources = [*(REPO / "plugins").rglob("*.py"), *(REPO / "extensions").glob("*/src/**/*.py")]
    assert any("extensions" in path.parts for path in sources)
    deeper = []
    for path in sorted(sources):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            deeper += [
                f"{path.relative_to(REPO)}:{node.lineno}: {module}"
                for module in modules
                if module.startswith("payments_platform.core.")
            ]
    assert deeper == []
