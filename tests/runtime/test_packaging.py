"""The api plugin zips runtime/ as the top-level package ``payments_runtime``: it must import
from there with only the stdlib, botocore and structlog, and both handler strings must resolve."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"
ALLOWED_THIRD_PARTY = {"botocore", "structlog"}


def runtime_modules():
    return sorted(p for p in RUNTIME.rglob("*.py") if "__pycache__" not in p.parts)


def test_runtime_imports_only_stdlib_botocore_structlog_and_itself():
    offenders = []
    for path in runtime_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY and top != "__future__":
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_handlers_import_from_the_packaged_layout(tmp_path):
    package = tmp_path / "payments_runtime"
    shutil.copytree(RUNTIME, package, ignore=shutil.ignore_patterns("__pycache__"))
    script = (
        "import importlib, sys\n"
        "for name in ('payments_runtime.transactions', 'payments_runtime.status'):\n"
        "    assert callable(importlib.import_module(name).handler)\n"
        "assert not any(m.startswith('payments_platform') for m in sys.modules)\n"
        "assert 'boto3' not in sys.modules\n"
    )
    subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, check=True, env={"PYTHONPATH": str(tmp_path), "PATH": ""}
    )


def test_the_gateway_schema_ships_inside_the_runtime_folder():
    assert (RUNTIME / "schemas" / "create_transaction.schema.json").is_file()
