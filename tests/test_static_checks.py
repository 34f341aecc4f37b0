"""Static checks are part of the suite: ruff (lint and format) over the repository, mypy --strict
over the plugin contract and the runtime, import-linter's contracts over the core's layers. Zero
findings; configuration in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = run(sys.executable, "-m", "ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_every_file_as_it_is():
    result = run(sys.executable, "-m", "ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_on_the_contract_and_the_runtime():
    result = run(sys.executable, str(REPO / "tools" / "typecheck.py"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_import_linter_keeps_every_contract():
    """The core's layers (cli | testing > local > ops | authoring > host > contract), the facade
    loading only the contract, no plugin or payment runtime imported by the core."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = run(str(lint_imports), "--no-cache", "--config", str(REPO / "pyproject.toml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_linter_sees_every_package_this_distribution_installs():
    """A package left out of root_packages would be outside every contract, silently."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    installed = pyproject["tool"]["setuptools"]["packages"]
    roots = pyproject["tool"]["importlinter"]["root_packages"]
    uncovered = [p for p in installed if not any(p == r or p.startswith(r + ".") for r in roots)]
    assert uncovered == []
