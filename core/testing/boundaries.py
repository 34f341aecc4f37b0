"""Plugins meet only through the context: no plugin imports another plugin's modules.

:func:`boundary_violations` reads every module of every plugin (``plugins/<name>/``) and every
distribution under ``extensions/`` with :mod:`ast` (nothing is imported or run) and reports each
import that resolves into another plugin's code — absolute (``payments_platform.plugins.storage``),
``from payments_platform.plugins import storage``, or relative (``from ..storage import grants``).
What any plugin may import is the plugin contract and third-party libraries: :func:`core_violations`
reports each import of the core's own machinery -- its subpackages (``host``, ``ops``, ``local``...),
which may change in any release -- rather than what ``payments_platform.core`` exports, its
top-level contract modules, or ``payments_platform.core.testing``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PLUGINS_PACKAGE = "payments_platform.plugins"
CORE_PACKAGE = "payments_platform.core"
PUBLIC_CORE_PACKAGES = frozenset({"testing"})  # helpers for plugins' own tests
SKIPPED_DIRS = frozenset({"tests", "build", "dist", "__pycache__", ".venv"})


@dataclass(frozen=True)
class PluginCode:
    """One unit that may not reach into another: a plugin folder or an extension distribution."""

    name: str
    root: Path
    packages: tuple[str, ...]  # dotted names of the packages it owns

    def owns(self, module: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in self.packages)


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    imported: str
    importer: str
    owner: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: plugin '{self.importer}' imports {self.imported}, code of plugin '{self.owner}'"
        )


def plugin_code(repo: Path) -> list[PluginCode]:
    """Every plugin folder under ``repo/plugins`` and every distribution under ``repo/extensions``."""
    units = (
        [
            PluginCode(folder.name, folder, (f"{PLUGINS_PACKAGE}.{folder.name}",))
            for folder in sorted((repo / "plugins").iterdir())
            if folder.is_dir() and folder.name not in SKIPPED_DIRS and any(folder.glob("*.py"))
        ]
        if (repo / "plugins").is_dir()
        else []
    )
    extensions = repo / "extensions"
    if extensions.is_dir():
        for dist in sorted(p for p in extensions.iterdir() if p.is_dir()):
            source_root = dist / "src" if (dist / "src").is_dir() else dist
            packages = tuple(sorted(_top_packages(source_root)))
            if packages:
                units.append(PluginCode(dist.name, dist, packages))
    return units


def boundary_violations(units: list[PluginCode]) -> list[Violation]:
    """Each import in one unit's modules that resolves into another unit's packages."""
    found: list[Violation] = []
    for unit in units:
        for path, module in _modules(unit):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, base, names in _imports(tree, module, is_package=path.name == "__init__.py"):
                # `from payments_platform.plugins import storage`: the names are the modules.
                for imported in [base] if _owner(units, None, base) else [f"{base}.{n}" for n in names]:
                    owner = _owner(units, unit, imported)
                    if owner is not None:
                        found.append(Violation(path, line, imported, unit.name, owner.name))
    return found


@dataclass(frozen=True)
class CoreViolation:
    path: Path
    line: int
    imported: str
    importer: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: plugin '{self.importer}' imports {self.imported}, the core's machinery, "
            f"not the plugin contract: import what you need from {CORE_PACKAGE}"
        )


def core_violations(units: list[PluginCode], core_root: Path) -> list[CoreViolation]:
    """Each import in a unit that reaches into one of the core's subpackages (``core_root`` is the
    core package's folder: its subfolders with an ``__init__.py`` are what no plugin may import)."""
    internal = {
        folder.name
        for folder in core_root.iterdir()
        if folder.is_dir() and (folder / "__init__.py").exists() and folder.name not in PUBLIC_CORE_PACKAGES
    }
    found: list[CoreViolation] = []
    for unit in units:
        for path, module in _modules(unit):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, base, names in _imports(tree, module, is_package=path.name == "__init__.py"):
                candidates = [f"{base}.{n}" for n in names] if base == CORE_PACKAGE else [base]
                for imported in candidates:
                    parts = imported.split(".")
                    if imported.startswith(CORE_PACKAGE + ".") and len(parts) > 2 and parts[2] in internal:
                        found.append(CoreViolation(path, line, imported, unit.name))
    return found


def _owner(units: list[PluginCode], importer: PluginCode | None, module: str) -> PluginCode | None:
    return next((other for other in units if other is not importer and other.owns(module)), None)


def _top_packages(source_root: Path) -> Iterator[str]:
    """Dotted names of the top-most regular packages below ``source_root`` (namespace parents
    such as ``payments_platform/plugins/`` without ``__init__.py`` are walked through)."""
    for init in sorted(source_root.rglob("__init__.py")):
        package = init.parent
        relative = package.relative_to(source_root)
        if SKIPPED_DIRS & set(relative.parts) or (package.parent / "__init__.py").exists():
            continue
        yield ".".join(relative.parts)


def _modules(unit: PluginCode) -> Iterator[tuple[Path, str]]:
    for path in sorted(unit.root.rglob("*.py")):
        relative = path.relative_to(unit.root)
        if SKIPPED_DIRS & set(relative.parts[:-1]):
            continue
        module = _module_name(unit, path)
        if module is not None:
            yield path, module


def _module_name(unit: PluginCode, path: Path) -> str | None:
    if unit.packages == (f"{PLUGINS_PACKAGE}.{unit.root.name}",):
        parts = [unit.packages[0], *path.relative_to(unit.root).with_suffix("").parts]
    else:
        source_root = unit.root / "src" if (unit.root / "src").is_dir() else unit.root
        parts = list(path.relative_to(source_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    name = ".".join(parts)
    return name if unit.owns(name) else None  # a setup script or loose file belongs to no package


def _imports(tree: ast.Module, module: str, *, is_package: bool) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(line, imported module, names imported from it) per import; relative imports resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names if alias.name != "*")
            yield node.lineno, _resolve(node, module, is_package), names


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join([*anchor, *([node.module] if node.module else [])])
