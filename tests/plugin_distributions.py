"""Installing a plugin distribution for a test the way pip does: a ``*.dist-info`` with an entry
point in the payments_platform.plugins group, on a directory put on the path (PYTHONPATH)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def install_distribution(site: Path, name: str, version: str, plugins: Mapping[str, str]) -> Path:
    """Write ``name``'s dist-info into ``site`` with ``plugins`` (entry-point name → module) as its
    entry points; the modules themselves are the caller's to put there. Returns the dist-info."""
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{plugin} = {module}\n" for plugin, module in sorted(plugins.items()))
    (info / "entry_points.txt").write_text(f"[payments_platform.plugins]\n{lines}")
    return info
