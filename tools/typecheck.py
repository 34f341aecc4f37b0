"""mypy --strict over the plugin contract (core/'s top-level modules) and runtime/.

The repository maps ``payments_platform.core`` to ``core/`` and ``.runtime`` to ``runtime/``
through setuptools' package-dir, which mypy cannot follow from an editable install. This lays
the sources out under their real names (symlinks in a temporary directory) so every import
between them resolves to the checked module. Exit status and output are mypy's.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def contract_modules() -> list[str]:
    return sorted(
        f"payments_platform.core.{path.stem}" if path.stem != "__init__" else "payments_platform.core"
        for path in (REPO / "core").glob("*.py")
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="payments-typecheck-") as tmp:
        root = Path(tmp) / "payments_platform"
        root.mkdir()
        (root / "core").symlink_to(REPO / "core")
        (root / "runtime").symlink_to(REPO / "runtime")
        targets = [arg for module in contract_modules() for arg in ("-m", module)]
        command = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(REPO / ".mypy_cache"),
            *targets,
            "-p",
            "payments_platform.runtime",
        ]
        return subprocess.run(command, cwd=tmp, env={"MYPYPATH": tmp, "PATH": ""}).returncode


if __name__ == "__main__":
    sys.exit(main())
