"""`new-plugin --kind`: the core writes its own generic kind and asks every installed plugin for the
others (``payments_scaffold_kinds``). Plugins here are installed as pip installs one (a .dist-info
with an entry point, on the path), so the host discovers them as it would a third party's."""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from pathlib import Path

import pytest
from plugin_distributions import install_distribution

from payments_platform.core import ScaffoldKind

from cli_runner import run_cli

REPO = Path(__file__).resolve().parents[3]
NOTES_KIND = """
from payments_platform.core import PluginDeclaration, ScaffoldKind, hookimpl

NOTES = ScaffoldKind(
    "notes",
    "a plugin that keeps notes",
    {
        "README.md": "# $distribution\\n\\n`$name`: costs $$0 ($camel, $settings_class)\\n",
        "{package}/__init__.py": "",
        "{package}/plugin.py": "NAME = '$name'\\n",
        "{package}/store/__init__.py": "",
    },
    summary="The $name notes for payments-platform",
    next_step='keep notes with enable = ["$name"]',
)


@hookimpl
def payments_declare():
    return PluginDeclaration(name="{plugin}", description="contributes the notes kind")


@hookimpl
def payments_scaffold_kinds(register):
    register({registered})
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``site(plugin, registered="NOTES")`` installs a distribution whose plugin registers ``registered``."""
    directory = tmp_path / "site"
    monkeypatch.syspath_prepend(str(directory))
    modules: list[str] = []

    def install(plugin: str, registered: str = "NOTES") -> None:
        module = f"payments_{plugin}_kind_fixture"
        modules.append(module)
        directory.mkdir(exist_ok=True)
        (directory / f"{module}.py").write_text(
            NOTES_KIND.replace("{plugin}", plugin).replace("{registered}", registered)
        )
        install_distribution(directory, f"payments-{plugin}-kind", "0.3.0", {plugin: module})
        importlib.invalidate_caches()

    yield install
    for module in modules:  # the next test installs its own under the same name
        sys.modules.pop(module, None)


def new_plugin(*args: str | Path) -> tuple[int, str, str]:
    result = run_cli("new-plugin", *args)
    return result.returncode, result.stdout, result.stderr


def test_an_unknown_kind_is_one_line_listing_the_cores_and_every_installed_plugins_kinds(site, tmp_path):
    site("notebook")
    code, out, err = new_plugin("ledger_probe", "--kind", "gateway", "--dir", tmp_path / "plugin")
    assert (code, out, err.count("\n")) == (2, "", 1) and not (tmp_path / "plugin").exists()
    assert err.startswith("payments-platform: error: unknown plugin kind 'gateway'; installed kinds: ")
    listed = re.findall(r"(?:kinds: |; )([a-z_-]+) \((the core|plugin '[a-z_-]+')", err)
    assert listed == [("connector", "plugin 'api'"), ("notes", "plugin 'notebook'"), ("queue", "the core")]
    assert "a plugin that keeps notes" in err


def test_a_plugins_kind_is_written_with_the_cores_pyproject_listing_its_subpackages(site, tmp_path):
    site("notebook")
    code, out, _ = new_plugin("jot", "--kind", "notes", "--dir", tmp_path / "plugin")
    root = tmp_path / "plugin"
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert code == 0 and written == [
        "README.md",
        "payments_jot/__init__.py",
        "payments_jot/plugin.py",
        "payments_jot/store/__init__.py",
        "pyproject.toml",
    ]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["payments_platform.plugins"] == {"jot": "payments_jot.plugin"}
    assert pyproject["tool"]["setuptools"]["packages"] == ["payments_jot", "payments_jot.store"]
    assert pyproject["project"]["description"] == "The jot notes for payments-platform"
    assert (root / "README.md").read_text() == "# payments-jot\n\n`jot`: costs $0 (Jot, JotSettings)\n"
    assert out.endswith('then keep notes with enable = ["jot"]\n')


def test_two_plugins_registering_one_kind_is_one_error_naming_both(site, tmp_path):
    site("notebook")
    site("jotter")
    code, _, err = new_plugin("jot", "--dir", tmp_path / "plugin")
    assert code == 2 and err.count("\n") == 1 and not (tmp_path / "plugin").exists()
    assert "plugin 'notebook' (distribution payments-notebook-kind 0.3.0) registered the ScaffoldKind 'notes'" in err
    assert "already registered by plugin 'jotter' (distribution payments-jotter-kind 0.3.0)" in err


NOTEBOOK = "plugin 'notebook' (distribution payments-notebook-kind 0.3.0)"


@pytest.mark.parametrize(
    ("registered", "message"),
    [
        (
            'ScaffoldKind("queue", "another queue", {"README.md": "#"})',
            f"{NOTEBOOK} registered the ScaffoldKind 'queue' in payments_scaffold_kinds, the core's own kind",
        ),
        ('{"name": "notes"}', f"{NOTEBOOK} registered dict in payments_scaffold_kinds; expected ScaffoldKind"),
        (
            'ScaffoldKind("notes", "broken", {"README.md": "$nme"})',
            f"{NOTEBOOK} failed in payments_scaffold_kinds at ",  # then the plugin's file and line
        ),
    ],
    ids=["the-cores-kind", "not-a-kind", "a-broken-kind"],
)
def test_a_plugin_registering_what_the_host_refuses_is_one_line_naming_it(site, tmp_path, registered, message):
    site("notebook", registered=registered)
    code, _, err = new_plugin("jot", "--dir", tmp_path / "plugin")
    assert code == 2 and err.count("\n") == 1 and not (tmp_path / "plugin").exists()
    assert err.startswith(f"payments-platform: error: {message}")


def test_a_broken_kinds_error_says_what_is_wrong_with_it(site, tmp_path):
    site("notebook", registered='ScaffoldKind("notes", "broken", {"README.md": "$nme"})')
    _, _, err = new_plugin("jot", "--dir", tmp_path / "plugin")
    assert "README.md uses unknown placeholder(s) $nme" in err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Notes"}, "scaffold kind name 'Notes' must be lowercase"),
        ({"description": "two\nlines"}, "description must be one non-empty line"),
        ({"files": {}}, "files must map at least one path to its text"),
        ({"files": {"../escape.py": ""}}, "must be relative, inside the distribution"),
        ({"files": {"/etc/x": ""}}, "must be relative, inside the distribution"),
        ({"files": {"{name}/x.py": ""}}, "uses ['name']; a path may use {package}"),
        ({"files": {"pyproject.toml": ""}}, "pyproject.toml is written by the core for every kind"),
        ({"files": {"README.md": "costs $5"}}, "README.md has a '$' that is no placeholder"),
        ({"files": {"README.md": b"bytes"}}, "README.md must be text, not bytes"),
        ({"next_step": "enable $plugin"}, "next_step uses unknown placeholder(s) $plugin"),
    ],
)
def test_a_scaffold_kind_is_checked_when_made(kwargs, message):
    given = {"name": "notes", "description": "notes", "files": {"README.md": "# $name"}, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        ScaffoldKind(**given)


def test_a_registered_kind_cannot_change_under_the_host():
    files = {"README.md": "# $name"}
    kind = ScaffoldKind("notes", "notes", files)
    files["other.md"] = "x"
    assert list(kind.files) == ["README.md"]
    with pytest.raises(TypeError):
        kind.files["README.md"] = "changed"  # type: ignore[index]


# The team's rule: the core knows no payment detail. What new-plugin writes beyond the generic
# queue is the installed plugins' (the payment connector: the api plugin's).
AUTHORING_MODULES = [
    *sorted((REPO / "core" / "authoring").glob("*.py")),
    REPO / "core" / "cli" / "authoring.py",
    REPO / "core" / "scaffold_kinds.py",
]
PAYMENT_WORDS = re.compile(
    r"connector|acquirer|\bcards?\b|card[_ ]?data|\bpan\b|\bcvc\b|declin|authoriz", re.IGNORECASE
)


@pytest.mark.parametrize("module", AUTHORING_MODULES, ids=lambda path: str(path.relative_to(REPO)))
def test_the_cores_authoring_tools_name_no_payment_detail(module):
    assert PAYMENT_WORDS.findall(module.read_text(encoding="utf-8")) == []
