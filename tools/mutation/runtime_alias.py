"""pytest plugin for `make mutation` only: the tests import ``payments_platform.runtime.*`` (the
editable install maps that package to ./runtime), while mutmut mutates its copy under mutants/
and names mutants after the file path (``runtime.redaction.…``). Under mutmut (cwd mutants/,
which is first on sys.path) this imports each runtime module as ``runtime.<name>`` -- the
mutated copy -- and makes ``payments_platform.runtime.<name>`` the same module object, so the
tests exercise the mutants and mutmut's trampolines record hits under the names it expects."""

from __future__ import annotations

import importlib
import pkgutil
import sys


def _alias_runtime() -> None:
    runtime = importlib.import_module("runtime")
    sys.modules["payments_platform.runtime"] = runtime
    for module in pkgutil.iter_modules(runtime.__path__):
        if not module.ispkg:
            sys.modules[f"payments_platform.runtime.{module.name}"] = importlib.import_module(f"runtime.{module.name}")
    # The top-level name goes back to pytest: tests/runtime (no tests/__init__.py) is imported as
    # the package "runtime". Every module above is imported already (no lazy relative imports).
    for name in [name for name in sys.modules if name == "runtime" or name.startswith("runtime.")]:
        del sys.modules[name]


_alias_runtime()
