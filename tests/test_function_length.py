"""No function of the product is longer than 80 lines (issue #27): a function that long is
several, and reads as none of them. Counted with ast from ``def`` to its last line."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 80
SOURCES = ("core", "plugins", "runtime", "extensions")

# Being shortened in parallel branches of issue #27; each entry XPASSes -- and so fails, strict --
# once its function fits: delete it then (the lead, after the merges).
PENDING = {
    "core/local/apigw/server.py::serve": "localowner: the gateway entry point only composes its services",
    "core/local/lifecycle.py::_up": "localowner: lifecycle split by concern",
}


@functools.cache
def function_lengths() -> dict[str, int]:
    """``path::qualified.name`` → lines, for every function and method under SOURCES."""
    lengths: dict[str, int] = {}
    for top in SOURCES:
        for path in sorted((REPO / top).rglob("*.py")):
            if {".venv", "build", "tests"} & set(path.relative_to(REPO).parts):
                continue
            relative = path.relative_to(REPO).as_posix()
            lengths.update(_lengths(ast.parse(path.read_text(), filename=relative), relative, ""))
    return lengths


def _lengths(node: ast.AST, path: str, prefix: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                assert child.end_lineno is not None
                found[f"{path}::{name}"] = child.end_lineno - child.lineno + 1
            found.update(_lengths(child, path, f"{name}."))
        else:
            found.update(_lengths(child, path, prefix))
    return found


def test_no_function_is_longer_than_80_lines():
    too_long = {name: lines for name, lines in function_lengths().items() if lines > MAX_LINES and name not in PENDING}
    assert too_long == {}


@pytest.mark.parametrize("name", sorted(PENDING))
@pytest.mark.xfail(strict=True, reason="being shortened in a parallel change of issue #27 (PENDING)")
def test_a_function_being_shortened_fits(name):
    assert function_lengths().get(name, 0) <= MAX_LINES


def test_the_count_finds_nested_functions_and_methods(tmp_path):
    source = "class A:\n    def m(self):\n        def inner():\n            pass\n        return 1\n"
    assert _lengths(ast.parse(source), "x.py", "") == {"x.py::A.m": 4, "x.py::A.m.inner": 2}
