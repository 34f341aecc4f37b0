"""The synthesizer ``local up --watch`` keeps warm between saves (issue #31), and the plugin sources
it watches.

A fresh process per save paid the provider bindings' import and the jsii runtime's start (most of
a synth's seconds) every time. The warm one pays them once, at ``--watch``'s start, and before each
synth forgets every module loaded from a watched directory -- the project's ``plugins/`` and
``extensions/`` and the source of each enabled plugin installed in development mode -- so changed
plugin code is imported anew, as in a fresh process. environments.toml is read anew by each synth.

Protocol (one JSON line each way, stdin/stdout): ``{"config", "env", "endpoint", "out"}`` →
``{"ok": true}`` or ``{"error": "<one line>"}``. A process that dies or stops answering is
replaced; the caller (watch.py) then falls back to a fresh process for that save.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from payments_platform.core.local.package_sources import is_under

READY = "ready"


class WarmSynthUnavailable(Exception):
    """The warm process is gone or did not answer: synthesize in a fresh process instead."""


class SynthRefused(Exception):
    """The synth itself failed (a plugin's error, a bad setting): the one line to show."""


# --------------------------------------------------------------------------- plugin sources


def editable_plugin_sources(enabled: Iterable[str], group: str, exclude: Sequence[Path] = ()) -> list[Path]:
    """The source directories of the enabled plugins installed in development mode (``pip install -e``):
    the package directory of each entry point's module, for distributions whose ``direct_url.json``
    says ``editable``. Directories under ``exclude`` (the project's own, already watched) are left out."""
    wanted = set(enabled)
    found: set[Path] = set()
    for distribution in importlib.metadata.distributions():
        if not _is_editable(distribution):
            continue
        for entry_point in distribution.entry_points:
            if entry_point.group != group or entry_point.name not in wanted:
                continue
            directory = _package_dir(entry_point.module)
            if directory is None or not directory.is_dir():
                continue
            if not any(is_under(directory, root) for root in exclude):
                found.add(directory)
    return sorted(found)


def _is_editable(distribution: importlib.metadata.Distribution) -> bool:
    text = distribution.read_text("direct_url.json")
    if not text:
        return False
    try:
        return bool(json.loads(text).get("dir_info", {}).get("editable"))
    except (ValueError, AttributeError):
        return False


def _package_dir(module: str) -> Path | None:
    """The directory of the package holding the entry point's module (found through the
    ``__editable__`` finder like any import; only parent packages are imported, not the plugin)."""
    package = module.rsplit(".", 1)[0] if "." in module else module
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    return Path(spec.origin).resolve().parent if spec.origin else None


# --------------------------------------------------------------------------- the caller's side


@dataclasses.dataclass
class WarmSynthesizer:
    """One warm synth process; ``synthesize`` is called from the watcher's thread only."""

    watched: Sequence[Path]
    timeout_s: float = 300.0
    _process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        from payments_platform.core.local.processes import python_module

        command = python_module(__name__, *(arg for root in self.watched for arg in ("--forget-under", str(root))))
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # the terminal's Ctrl-C is the watcher's to handle, not the synth's
        )

    def synthesize(self, config: Path, environment: str, endpoint: str, out: Path) -> None:
        """SynthRefused: the synth failed (one line). WarmSynthUnavailable: ask a fresh process."""
        if self._process is None or self._process.poll() is not None:
            self.start()
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        request = {"config": str(config), "env": environment, "endpoint": endpoint, "out": str(out)}
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            answer = _read_answer(process.stdout, self.timeout_s)
        except (OSError, ValueError, TimeoutError) as failure:
            self.close()
            raise WarmSynthUnavailable(str(failure) or type(failure).__name__) from None
        if answer.get("ok"):
            return
        raise SynthRefused(str(answer.get("error", "synth failed")))

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        from payments_platform.core.ops.process_tree import stop_tree

        stop_tree(process)


def _read_answer(stream: IO[str], timeout_s: float) -> dict[str, Any]:
    """The next non-ready line, within the timeout (the first call also waits for the warm-up)."""
    lines: list[str] = []

    def read() -> None:
        while True:
            line = stream.readline()
            if not line or line.strip() != READY:
                lines.append(line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    if reader.is_alive():
        raise TimeoutError(f"no answer within {timeout_s:.0f} s")
    if not lines or not lines[0]:
        raise OSError("the warm synthesizer exited")
    return dict(json.loads(lines[0]))


# --------------------------------------------------------------------------- the warm process


def forget_modules_under(roots: Sequence[Path]) -> list[str]:
    """Drop every loaded module whose file is under one of ``roots``: the next import reads it anew.

    Its bytecode cache goes too: a .pyc is taken as current while the source's size and mtime (in
    whole seconds) match, so a save within the second that keeps the size (a digit changed) would
    be served from the old code."""
    resolved = [root.resolve() for root in roots]
    gone = []
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        if location and any(is_under(Path(location), root) for root in resolved):
            del sys.modules[name]
            gone.append(name)
            cached = getattr(module, "__cached__", None)
            if cached:
                Path(cached).unlink(missing_ok=True)
    importlib.invalidate_caches()
    return gone


def _warm_up() -> None:
    """What every synth needs and no save changes: the provider bindings in the jsii runtime."""
    from payments_platform.core.cdktf_adapter import aws
    from payments_platform.core.host import synth  # noqa: F401 -- imported now, not on the first save

    aws.sqs_queue  # noqa: B018 -- the attribute loads the provider's jsii assembly


def _serve(roots: Sequence[Path], stdin: IO[str], stdout: IO[str]) -> int:
    from payments_platform.core.local.watch import synthesize_one

    _warm_up()
    stdout.write(READY + "\n")
    stdout.flush()
    for line in stdin:
        request = json.loads(line)
        forget_modules_under(roots)
        error = synthesize_one(request["config"], request["env"], request["endpoint"], Path(request["out"]))
        stdout.write(json.dumps({"ok": True} if error is None else {"error": error}) + "\n")
        stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=__name__)
    parser.add_argument("--forget-under", action="append", default=[], type=Path)
    args = parser.parse_args(argv)
    # The answers keep stdout to themselves: whatever a plugin or synth prints goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return _serve(args.forget_under, sys.stdin, answers)


if __name__ == "__main__":
    sys.exit(main())
