"""Docs that stay true: every repository path README.md, BENCHMARKS.md, docs/ and the extensions'
READMEs name exists, and every ``payments_platform.…`` name they give resolves (issue #27: five
statements named files that had moved or gone)."""

from __future__ import annotations

import glob
import importlib
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A recorded output keeps the words it was printed with.
RECORDED = {
    ("BENCHMARKS.md", "tests/compliance"): "benchmarks/compliance_gate.py's output before the tests moved to "
    "tests/core/ops/compliance",
}


def documents() -> list[str]:
    found = ["README.md", "BENCHMARKS.md", *glob.glob("docs/**/*.md", root_dir=REPO, recursive=True)]
    return sorted({*found, *glob.glob("extensions/*/README.md", root_dir=REPO)})


@cache
def repository() -> tuple[frozenset[str], frozenset[str]]:
    """(tracked files, their directories), as git knows them: what a fresh clone has."""
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    files = frozenset(listed.split())
    folders = {str(parent) for f in files for parent in Path(f).parents if str(parent) != "."}
    return files, frozenset(folders)


def path_pattern(files: frozenset[str]) -> re.Pattern[str]:
    """A path starting at one of the repository's top-level folders: ``core/local/watch.py``, ``tests/e2e/``."""
    tops = sorted({f.split("/")[0] for f in files if "/" in f})
    alternatives = "|".join(map(re.escape, tops))
    return re.compile(rf"(?<![\w./-])((?:{alternatives})/[\w.*/-]*[\w*/])")


# A module named alone, in code quotes: ``emulator_admin.py``.
MODULE = re.compile(r"`([\w-]+\.py)`")
DOTTED = re.compile(r"(?<![\w.])(payments_platform(?:\.\w+)+)")


def missing_paths(document: str, text: str) -> list[str]:
    files, folders = repository()
    basenames = {Path(f).name for f in files}
    missing = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in path_pattern(files).finditer(line):
            path = match.group(1).rstrip("/.")
            if (document, path) in RECORDED:
                continue
            exists = bool(glob.glob(path, root_dir=REPO)) if "*" in path else path in files or path in folders
            if not exists:
                missing.append(f"{document}:{number}: {path}")
        missing += [f"{document}:{number}: {m}" for m in MODULE.findall(line) if m not in basenames]
    return missing


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


@pytest.mark.parametrize("document", documents())
def test_every_repository_path_a_document_names_exists(document):
    assert missing_paths(document, (REPO / document).read_text()) == []


@pytest.mark.parametrize("document", documents())
def test_every_python_name_a_document_gives_resolves(document):
    names = sorted(set(DOTTED.findall((REPO / document).read_text())))
    assert [name for name in names if not resolves(name)] == []


def test_a_moved_file_a_module_and_a_folder_are_caught_and_what_exists_is_not():
    text = (
        "see `tests/core/test_config.py` and core/local/nothere/; the key is in `emulator_admin.py`\n"
        "`core/local/watch.py`, tests/e2e/, `core/local/emulator/moto_*.py` and `admin.py` exist\n"
    )
    assert missing_paths("X.md", text) == [
        "X.md:1: tests/core/test_config.py",
        "X.md:1: core/local/nothere",
        "X.md:1: emulator_admin.py",
    ]
    assert not resolves("payments_platform.core.local.fault_command")
    assert resolves("payments_platform.core.host.config.load_config")


def test_every_recorded_exception_is_still_in_its_document():
    for document, path in RECORDED:
        assert path in (REPO / document).read_text(), (document, path)
