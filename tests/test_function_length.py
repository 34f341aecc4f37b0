"""No function of the product is longer than 80 lines (issue #27): a function that long is
several, and reads as none of them. Counted with ast from ``def`` to its last line."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 80
SOURCES = ("core", "plugins", "runtime", "extensions")


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
    too_long = {name: lines for name, lines in function_lengths().items() if lines > MAX_LINES}
    assert too_long == {}


def test_the_count_finds_nested_functions_and_methods(tmp_path):
    source = "class A:\n    def m(self):\n        def inner():\n            pass\n        return 1\n"
    assert _lengths(ast.parse(source), "x.py", "") == {"x.py::A.m": 4, "x.py::A.m.inner": 2}
