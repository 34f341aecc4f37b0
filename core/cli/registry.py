"""How a command group joins the CLI: each group module has ``register(commands)`` and adds its
commands through :class:`Commands`, which ties a handler to its parser. ``main`` calls whatever
handler the parsed arguments carry; no group is listed in two places, and a group's actions each
have their own handler (tests/core/cli/test_cli_registry.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


class Commands:
    def __init__(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        self._subparsers = subparsers

    def add(self, name: str, *, help: str, handler: Handler) -> argparse.ArgumentParser:
        """A command (``synth``) and the handler that runs it."""
        parser = self._subparsers.add_parser(name, help=help)
        parser.set_defaults(handler=handler)
        return parser

    def add_group(self, name: str, *, help: str, dest: str) -> tuple[argparse.ArgumentParser, Commands]:
        """A command made of actions (``state bootstrap``, ``local fault add``): its parser (for
        options every action shares) and the :class:`Commands` its actions are added to, each
        with its own handler. The group itself has none: an action is required."""
        parser = self._subparsers.add_parser(name, help=help)
        return parser, self.group(parser, dest)

    def group(self, parser: argparse.ArgumentParser, dest: str) -> Commands:
        """Actions under a command (``local up``, ``state migrate``): each with its own handler."""
        return Commands(parser.add_subparsers(dest=dest, required=True, metavar="ACTION"))
