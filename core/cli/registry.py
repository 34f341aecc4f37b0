"""How a command group joins the CLI: each group module has ``register(commands)`` and adds its
commands through :class:`Commands`, which ties a handler to its parser. ``main`` calls whatever
handler the parsed arguments carry; no group is listed in two places."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


class Commands:
    def __init__(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        self._subparsers = subparsers

    def add(self, name: str, *, help: str, handler: Handler) -> argparse.ArgumentParser:
        """A command (``synth``) or, for a group with actions, its parent (``local``: then give the
        actions to :meth:`group`)."""
        parser = self._subparsers.add_parser(name, help=help)
        parser.set_defaults(handler=handler)
        return parser

    def group(self, parser: argparse.ArgumentParser, dest: str) -> Commands:
        """Actions under a command (``local up``, ``state migrate``): each with its own handler."""
        return Commands(parser.add_subparsers(dest=dest, required=True, metavar="ACTION"))
