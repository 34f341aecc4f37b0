"""The Lambda deployment package, built at synth time and byte-for-byte reproducible.

Layout of the zip::

    payments_runtime/          the contents of the payments_platform.runtime package
        __init__.py, transactions.py, status.py, ..., schemas/*.json
    structlog/                 the installed structlog, vendored (*.py and py.typed)

Same inputs give the same bytes, so ``source_code_hash`` only changes when code does (no
spurious function updates): entries are sorted, every timestamp is 1980-01-01 00:00, every
file is mode 0644 from a "Unix" creator, and entries are STORED (uncompressed) -- deflate
output depends on the zlib build, so a compressed zip could differ between a laptop and CI.
The package is a few hundred KB either way; Lambda's limit is 50 MB zipped.

Zips land in a content-addressed cache (``<dir>/<sha256>.zip``), so concurrent synths and
repeated builds share one file and never see a half-written one.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from pathlib import Path

from payments_platform.core import BuiltZip, keys, store_zip, tree_entries

RUNTIME_PACKAGE = "payments_platform.runtime"
RUNTIME_ARCHIVE_DIR = "payments_runtime"
VENDORED_PACKAGES = ("structlog",)

_RUNTIME_SUFFIXES = (".py", ".json")
_VENDORED_SUFFIXES = (".py", ".typed")

# What it is: the same fields as any package built by payments_platform.core.function_package.
LambdaPackage = BuiltZip


def _package_dir(package: str) -> Path:
    root = importlib.resources.files(package)
    path = Path(str(root))
    if not path.is_dir():
        raise FileNotFoundError(f"package {package!r} is not a directory on disk ({root})")
    return path


def support_trees(
    runtime_dir: Path | None = None, vendored: Iterable[str] = VENDORED_PACKAGES
) -> tuple[keys.PackageTree, ...]:
    """The runtime package's trees: the runtime itself, then each vendored library. Published in
    ``keys.RUNTIME_PACKAGE`` as its ``support``, so a plugin's own function can bundle the same
    structlog configuration and card-data redaction (core function_package(runtime_support=True))."""
    runtime_root = runtime_dir or _package_dir(RUNTIME_PACKAGE)
    trees = [keys.PackageTree(RUNTIME_ARCHIVE_DIR, str(runtime_root), _RUNTIME_SUFFIXES)]
    trees += [keys.PackageTree(name, str(_package_dir(name)), _VENDORED_SUFFIXES) for name in vendored]
    return tuple(trees)


def package_entries(
    runtime_dir: Path | None = None, vendored: Iterable[str] = VENDORED_PACKAGES
) -> list[tuple[str, Path]]:
    """Every (archive name, source file) of the package, sorted by archive name."""
    entries = [entry for tree in support_trees(runtime_dir, vendored) for entry in tree_entries(tree)]
    entries.sort(key=lambda item: item[0])
    names = [name for name, _ in entries]
    if len(set(names)) != len(names):
        raise ValueError("two files map to the same archive name")
    if f"{RUNTIME_ARCHIVE_DIR}/__init__.py" not in names:
        raise FileNotFoundError(f"{runtime_dir} holds no __init__.py: is it the runtime package?")
    return entries


def build_lambda_package(cache_dir: str | Path | None = None, *, runtime_dir: Path | None = None) -> LambdaPackage:
    """Build the package into ``cache_dir`` (default ``<tmp>/payments-platform-build``) and return it."""
    return store_zip(package_entries(runtime_dir), cache_dir)
