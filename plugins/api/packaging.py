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

import base64
import hashlib
import importlib.resources
import io
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

RUNTIME_PACKAGE = "payments_platform.runtime"
RUNTIME_ARCHIVE_DIR = "payments_runtime"
VENDORED_PACKAGES = ("structlog",)

FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record
FILE_MODE = 0o100644  # regular file, rw-r--r--
UNIX_CREATOR = 3
DEFAULT_CACHE_DIR_NAME = "payments-platform-build"

_RUNTIME_SUFFIXES = (".py", ".json")
_VENDORED_SUFFIXES = (".py", ".typed")


@dataclass(frozen=True)
class LambdaPackage:
    """A built deployment package: where it is and the hashes Terraform and tests compare."""

    path: Path
    sha256_hex: str
    source_code_hash: str  # base64 of the raw SHA-256, what aws_lambda_function expects
    entries: tuple[str, ...]


def _package_dir(package: str) -> Path:
    root = importlib.resources.files(package)
    path = Path(str(root))
    if not path.is_dir():
        raise FileNotFoundError(f"package {package!r} is not a directory on disk ({root})")
    return path


def _files(root: Path, suffixes: tuple[str, ...]) -> Iterator[tuple[str, Path]]:
    """(relative posix path, file) for files under ``root`` with ``suffixes``, no caches."""
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if "__pycache__" in relative.parts or any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.name.endswith(suffixes):
            yield relative.as_posix(), path


def package_entries(
    runtime_dir: Path | None = None, vendored: Iterable[str] = VENDORED_PACKAGES
) -> list[tuple[str, Path]]:
    """Every (archive name, source file) of the package, sorted by archive name."""
    runtime_root = runtime_dir or _package_dir(RUNTIME_PACKAGE)
    entries = [(f"{RUNTIME_ARCHIVE_DIR}/{name}", path) for name, path in _files(runtime_root, _RUNTIME_SUFFIXES)]
    for package in vendored:
        entries += [(f"{package}/{name}", path) for name, path in _files(_package_dir(package), _VENDORED_SUFFIXES)]
    entries.sort(key=lambda item: item[0])
    names = [name for name, _ in entries]
    if len(set(names)) != len(names):
        raise ValueError("two files map to the same archive name")
    if f"{RUNTIME_ARCHIVE_DIR}/__init__.py" not in names:
        raise FileNotFoundError(f"{runtime_root} holds no __init__.py: is it the runtime package?")
    return entries


def zip_bytes(entries: Iterable[tuple[str, Path]]) -> bytes:
    """The zip of ``entries`` (already sorted), with every variable field pinned."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = UNIX_CREATOR
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / DEFAULT_CACHE_DIR_NAME


def build_lambda_package(cache_dir: str | Path | None = None, *, runtime_dir: Path | None = None) -> LambdaPackage:
    """Build the package into ``cache_dir`` (default :func:`default_cache_dir`) and return it."""
    entries = package_entries(runtime_dir)
    data = zip_bytes(entries)
    digest = hashlib.sha256(data)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{digest.hexdigest()}.zip"
    if not (target.is_file() and target.stat().st_size == len(data)):
        # Write-then-rename: a concurrent synth sees the whole file or none of it.
        fd, scratch = tempfile.mkstemp(prefix=".lambda-", suffix=".zip", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(scratch, 0o644)
            os.replace(scratch, target)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise
    return LambdaPackage(
        path=target,
        sha256_hex=digest.hexdigest(),
        source_code_hash=base64.b64encode(digest.digest()).decode("ascii"),
        entries=tuple(name for name, _ in entries),
    )
