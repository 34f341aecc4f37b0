"""Installing a plugin distribution for a test the way pip does: a ``*.dist-info`` with an entry
point in the payments_platform.plugins group, on a directory put on the path (PYTHONPATH) -- or
the distribution itself, pip-installed into a throwaway venv (:func:`install_in_throwaway_venv`)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
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


def install_in_throwaway_venv(root: Path, distribution: Path) -> tuple[Path, dict[str, str]]:
    """``distribution`` installed (not editable) by pip into a venv made in ``root / "venv"`` that
    sees this environment's packages through a .pth file. Returns (its python, the environment to
    run it with: this one without PYTHONPATH and VIRTUAL_ENV)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    # addsitedir (not a bare path) so this environment's own .pth files, the editable install's too, apply.
    lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
    (site_packages_of(python) / "payments_platform_host.pth").write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(distribution)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
    )
    return python, env


def site_packages_of(python: Path) -> Path:
    """The site-packages directory of the venv whose interpreter is ``python``."""
    return Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
