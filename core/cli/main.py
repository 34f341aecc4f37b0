"""The ``payments-platform`` command. Each command group is a module of this package with a
``register(commands)`` function (see registry.py); the shared options are in options.py.

Bad input of any kind ends in one line on stderr and exit status 2 — never a traceback.
``--debug`` (anywhere on the command line) or ``PAYMENTS_DEBUG=1`` prints the full traceback
before that line: of a plugin's failing hook, of an unexpected failure, of any error.
A reader that closes the pipe early (``payments-platform plugins --json | head -1``) ends
the command quietly with exit status 141, as a tool killed by SIGPIPE would.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from payments_platform.core.cli import authoring, build, contract, local, operations
from payments_platform.core.cli.registry import Commands
from payments_platform.core.errors import PlatformError, PluginDeprecationWarning
from payments_platform.core.ops import garbage_collection

PROG = "payments-platform"
# In help order.
GROUPS = (build, authoring, local, operations, contract)
DEBUG_ENV_VAR = "PAYMENTS_DEBUG"
# 128 + SIGPIPE: what a shell reports for a tool whose reader went away (`set -o pipefail`
# scripts see the same status as with any other Unix tool cut short by `head`).
EXIT_PIPE_CLOSED = 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Synthesize, check and deploy the payments platform.")
    parser.add_argument("--config", help="environments file (default: environments.toml found upward from cwd)")
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"print the full traceback of a failure, anywhere on the line (or {DEBUG_ENV_VAR}=1)",
    )
    commands = Commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for group in GROUPS:
        group.register(commands)
    return parser


def _split_debug(argv: Sequence[str]) -> tuple[list[str], bool]:
    """``--debug`` anywhere before a ``--``: people type it where they notice the need."""
    args = list(argv)
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end]
    return [a for i, a in enumerate(args) if not (i < end and a == "--debug")], debug


def main(argv: Sequence[str] | None = None) -> int:
    garbage_collection.collect_less_often()  # the bindings' imports and a synth: a large, long-lived heap
    argv, debug_flag = _split_debug(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    debug = debug_flag or os.environ.get(DEBUG_ENV_VAR, "") not in ("", "0")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _plugin_warnings_as_lines(warnings.showwarning)
            status: int = args.handler(args)
        sys.stdout.flush()  # a reader gone early shows here, not in the interpreter's exit
        return status
    except BrokenPipeError as exc:
        if not _stdout_closed():
            return _internal_error(exc, debug)
        # The Python docs' recipe: nothing more can reach the reader, and the interpreter's
        # own flush at exit must not fail again with a second BrokenPipeError.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE_CLOSED
    except PlatformError as exc:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {exc.line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        # Ctrl-C reached the whole foreground process group, jsii's node child too: its atexit
        # handler would print a BrokenPipe traceback. Everything of ours is cleaned up already.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        return _internal_error(exc, debug)


def _plugin_warnings_as_lines(show: Callable[..., None]) -> Callable[..., None]:
    """A plugin's deprecation as one line, like the CLI's errors; any other warning as ``show`` shows it."""

    def show_warning(
        message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> None:
        if issubclass(category, PluginDeprecationWarning):
            print(f"{PROG}: warning: {message} (at {os.path.relpath(filename)}:{lineno})", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return show_warning


def _internal_error(exc: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    hint = "" if debug else f" (run with --debug or {DEBUG_ENV_VAR}=1 for the traceback)"
    print(f"{PROG}: internal error: {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
    return 70


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (POLLERR on its write end), as opposed
    to a BrokenPipeError from some other pipe or socket, which is a real failure."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


if __name__ == "__main__":
    sys.exit(main())
