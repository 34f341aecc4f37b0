"""`payments-platform new-plugin`: refused names write nothing; a scaffold installs, passes its
own tests and synthesizes when an environment enables it (end to end, in a throwaway venv)."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from payments_platform.core.cli.main import main

NAME = "ledger_probe"


def new_plugin(capsys, *args):
    code = main(["new-plugin", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("fraud-rules", "plugin name 'fraud-rules' must be a lowercase Python identifier"),
        ("Fraud", "plugin name 'Fraud' must be a lowercase Python identifier"),
        ("class", "plugin name 'class' must be a lowercase Python identifier"),
        ("api", "plugin 'api' (distribution payments-platform "),
        ("platform", "a Python package named payments_platform is already importable"),
    ],
)
def test_refused_name_is_one_line_and_writes_nothing(tmp_path, capsys, name, message):
    code, out, err = new_plugin(capsys, name, "--dir", str(tmp_path / "plugin"))
    assert (code, out, list(tmp_path.iterdir())) == (2, "", [])
    assert err.startswith(f"payments-platform: error: {message}") and err.count("\n") == 1


def test_existing_directory_is_refused_and_left_untouched(tmp_path, capsys):
    (tmp_path / "plugin").mkdir()
    code, _, err = new_plugin(capsys, NAME, "--dir", str(tmp_path / "plugin"))
    assert (
        code == 2
        and err == f"payments-platform: error: {tmp_path / 'plugin'} already exists; pass --dir with a new directory\n"
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "plugin"] and not any((tmp_path / "plugin").iterdir())


def test_directory_that_cannot_be_created_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    code, _, err = new_plugin(capsys, NAME, "--dir", str(tmp_path / "file" / "plugin"))
    assert code == 2 and err.startswith(f"payments-platform: error: cannot create {tmp_path / 'file' / 'plugin'}: ")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_scaffold_lists_what_it_wrote(tmp_path, capsys):
    code, out, _ = new_plugin(capsys, NAME, "--dir", str(tmp_path / "plugin"))
    written = sorted(str(p.relative_to(tmp_path / "plugin")) for p in (tmp_path / "plugin").rglob("*") if p.is_file())
    assert code == 0 and written == [
        "README.md",
        "payments_ledger_probe/__init__.py",
        "payments_ledger_probe/plugin.py",
        "payments_ledger_probe/settings.py",
        "pyproject.toml",
        "tests/test_plugin.py",
    ]
    assert all(f"  {path}\n" in out for path in written)
    assert [p.name for p in tmp_path.iterdir()] == ["plugin"]  # no staging directory left


def test_scaffold_imports_nothing_of_another_plugin(tmp_path, capsys):
    new_plugin(capsys, NAME, "--dir", str(tmp_path / "plugin"))
    sources = "".join(p.read_text() for p in (tmp_path / "plugin").rglob("*.py"))
    assert "payments_platform.plugins" not in sources and "import cdktf" not in sources


@pytest.fixture(scope="module")
def installed_scaffold():
    """The scaffold installed (not editable) into a throwaway venv that sees this environment's
    packages through a .pth file; the venv, the scaffold and its synth vanish afterwards."""
    with tempfile.TemporaryDirectory(prefix="payments-new-plugin-") as tmp:
        root = Path(tmp)
        assert main(["new-plugin", NAME, "--dir", str(root / "plugin")]) == 0
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
        python = root / "venv" / "bin" / "python"
        venv_site = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        # addsitedir (not a bare path) so this environment's own .pth files, the editable install's too, apply.
        lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
        Path(venv_site, "payments_platform_host.pth").write_text("\n".join(lines) + "\n")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                str(root / "plugin"),
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
        )
        yield root, python, env


def test_scaffold_passes_its_own_tests_once_installed(installed_scaffold):
    root, python, env = installed_scaffold
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root / "plugin",
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_environment_enabling_the_scaffold_synthesizes_its_resource(installed_scaffold):
    root, python, env = installed_scaffold
    (root / "environments.toml").write_text(
        f'[environments.trial]\nsuffix = "trial"\nregion = "us-east-1"\nplugins = ["{NAME}"]\n'
        f"[environments.trial.settings.{NAME}]\nlog_retention_days = 14\n"
    )
    result = subprocess.run(
        [python, "-m", "payments_platform.core.cli.main", "synth", "--env", "trial", "--synth-dir", str(root / "out")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads((root / "out" / "stacks" / "payments-trial" / "cdk.tf.json").read_text())
    log_groups = config["resource"]["aws_cloudwatch_log_group"]
    assert [(g["name"], g["retention_in_days"]) for g in log_groups.values()] == [("/payments/ledger-probe-trial", 14)]
