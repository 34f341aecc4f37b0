"""The one way the suite runs ``payments-platform``: :func:`run_cli`.

In this process by default -- ``main(argv)`` with stdout and stderr captured, and the working
directory and environment variables changed for the call only -- which is what the command does
in its own process, without an interpreter start and the imports (~1 s each). ``process=True``
runs ``python -m payments_platform.core.cli.main`` instead, for what only a real process shows: a
signal, a pipe closed by its reader, a fresh interpreter's imports or ``sys.path``. :data:`CLI` is
that command line, for tests that drive the process themselves (``Popen``).

Importable from any test module: tests/conftest.py puts tests/ on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

CLI = (sys.executable, "-m", "payments_platform.core.cli.main")
REPO = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str | os.PathLike[str],
    cwd: str | os.PathLike[str] = REPO,
    env: Mapping[str, str | None] | None = None,
    process: bool = False,
    python: str | os.PathLike[str] = sys.executable,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``payments-platform ARGS`` in ``cwd`` with ``env`` laid over this environment (a ``None``
    value removes the variable); its exit status, stdout and stderr. ``python``: another
    interpreter's CLI (a throwaway venv's), which implies ``process``."""
    argv = [os.fspath(arg) for arg in args]
    if process or os.fspath(python) != sys.executable:
        environment = dict(os.environ)
        for name, value in (env or {}).items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        command = [os.fspath(python), *CLI[1:], *argv]
        return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)
    from payments_platform.core.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with _in(cwd, env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse: --help (0) and a usage error (2)
            status = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
            if not isinstance(exit_.code, int | None):
                print(exit_.code, file=sys.stderr)
    return subprocess.CompletedProcess([*CLI, *argv], status, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _in(cwd: str | os.PathLike[str], env: Mapping[str, str | None]) -> Iterator[None]:
    saved_cwd, saved_env = os.getcwd(), {name: os.environ.get(name) for name in env}
    os.chdir(cwd)
    try:
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        os.chdir(saved_cwd)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
