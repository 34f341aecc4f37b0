"""Where the code of a deployed package comes from, and that package rebuilt from the saved code.

``local up --watch`` serves a saved edit without Terraform (watch.py). It learns which source
trees feed which function from the deployed stack itself, not from the plugin that built it: a
zip package is a list of entries, and the entries under one top-level archive directory
(``payments_runtime/...``) are byte-for-byte copies of one source tree (``runtime/``). Found by
content under the project's directories, that tree is watched; a save rebuilds the package with
the same entries, order and zip fields the synth wrote, the tree's files read anew -- so unchanged
sources rebuild the deployed bytes exactly (same CodeSha256), and a changed file changes only its
entry. Entries from outside the searched directories (vendored libraries) are kept as deployed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Never a package's source: caches, virtualenvs, VCS and run directories (which hold unpacked copies).
_SKIPPED_DIRS = {"__pycache__", "node_modules", "cdktf.out"}


@dataclass(frozen=True)
class PackageSource:
    package: Path  # the zip as deployed (in the stack directory)
    trees: Mapping[str, Path]  # top-level archive directory → the source tree its entries copy

    def covers(self, path: Path) -> bool:
        return any(is_under(path, tree) for tree in self.trees.values())

    def rebuild(self, out_dir: Path) -> BuiltPackage:
        """The package with every tree's files as they are now; written once per content."""
        data = _rebuilt_bytes(self.package, self.trees)
        digest = hashlib.sha256(data)
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{digest.hexdigest()}.zip"
        if not target.exists():
            scratch = target.with_name(f".{target.name}.{os.getpid()}")
            scratch.write_bytes(data)
            scratch.replace(target)
        return BuiltPackage(target, digest.hexdigest(), base64.b64encode(digest.digest()).decode("ascii"))


@dataclass(frozen=True)
class BuiltPackage:
    path: Path
    sha256_hex: str
    source_code_hash: str  # Lambda's CodeSha256


def find_sources(package: Path, search: Sequence[Path]) -> PackageSource:
    """The source tree of each top-level archive directory of ``package`` found under ``search``."""
    with zipfile.ZipFile(package) as archive:
        by_dir: dict[str, dict[str, bytes]] = {}
        for info in archive.infolist():
            top, _, rest = info.filename.partition("/")
            if rest and not info.is_dir():
                by_dir.setdefault(top, {})[rest] = archive.read(info)
    trees = {}
    for top, entries in sorted(by_dir.items()):
        tree = _tree_holding(entries, search)
        if tree is not None:
            trees[top] = tree
    return PackageSource(package, trees)


def _tree_holding(entries: Mapping[str, bytes], search: Sequence[Path]) -> Path | None:
    # Anchor on the entry whose name is rarest to look at few files; then every entry must match.
    # Of several copies (a build/ directory, a vendored copy), the one nearest the searched root.
    anchor = max(entries, key=lambda name: (name.count("/"), len(entries[name])))
    depth = anchor.count("/")
    for root in search:
        trees = []
        for candidate in _files_named(root, PurePosixPath(anchor).name):
            if candidate.stat().st_size != len(entries[anchor]) or candidate.read_bytes() != entries[anchor]:
                continue
            tree = candidate.parents[depth]
            if all(_same(tree / name, data) for name, data in entries.items()):
                trees.append(tree)
        if trees:
            return min(trees, key=lambda tree: (len(tree.parts), str(tree)))
    return None


def _files_named(root: Path, name: str) -> Iterator[Path]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        if name in files:
            yield Path(directory) / name


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _rebuilt_bytes(package: Path, trees: Mapping[str, Path]) -> bytes:
    with zipfile.ZipFile(package) as archive:
        kept: dict[str, tuple[zipfile.ZipInfo, bytes]] = {}
        templates: dict[str, zipfile.ZipInfo] = {}
        suffixes: dict[str, set[str]] = {}
        for info in archive.infolist():
            top = info.filename.partition("/")[0]
            if top in trees:
                templates.setdefault(top, info)
                suffixes.setdefault(top, set()).add(PurePosixPath(info.filename).suffix)
            else:
                kept[info.filename] = (info, archive.read(info))
    for top, tree in trees.items():
        for path in _tree_files(tree, suffixes[top]):
            name = f"{top}/{path.relative_to(tree).as_posix()}"
            kept[name] = (_entry_like(templates[top], name), path.read_bytes())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as rebuilt:
        for name in sorted(kept):
            info, data = kept[name]
            rebuilt.writestr(_entry_like(info, name), data)
    return buffer.getvalue()


def _entry_like(template: zipfile.ZipInfo, name: str) -> zipfile.ZipInfo:
    """A new entry with the template's pinned fields (timestamp, mode, creator, compression)."""
    info = zipfile.ZipInfo(name, date_time=template.date_time)
    info.compress_type = template.compress_type
    info.create_system = template.create_system
    info.external_attr = template.external_attr
    return info


def _tree_files(tree: Path, suffixes: set[str]) -> Iterator[Path]:
    for path in tree.rglob("*"):
        parts = path.relative_to(tree).parts
        if "__pycache__" in parts or any(part.startswith(".") for part in parts):
            continue
        if path.is_file() and path.suffix in suffixes:
            yield path


def is_under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
