"""The options several commands share, each defined once and meaning one thing everywhere.

- ``--env``: one environment (``env_option``), or, where a command works on several, a repeatable
  ``--env`` with ``--all`` beside it (``environments_option``).
- ``--synth-dir DIR``: where the Terraform JSON is synthesized (``cdktf.out``), for every command that
  synthesizes.
- ``--out FILE``: a file the command writes (a plan, the control map, the reference), never a directory.
- ``--terraform`` / ``--provider-mirror``: which terraform binary, and the offline provider mirror.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

DEFAULT_SYNTH_DIR = "cdktf.out"
CONFIG_DEFAULT = "the config's default"


def env_option(parser: argparse.ArgumentParser, *, default: str | None = None, help: str | None = None) -> None:
    parser.add_argument(
        "--env",
        default=default,
        help=help or f"environment (default: {default or CONFIG_DEFAULT})",
    )


def environments_option(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--env", action="append", help="environment (repeatable; default: the config's default)")
    group.add_argument("--all", action="store_true", help="every environment in the config")


def selected_environments(args: argparse.Namespace, config: Any) -> list[Any]:
    return list(config.select(sorted(config.environments) if args.all else args.env))


def synth_dir_option(parser: argparse.ArgumentParser, *, retired: Sequence[str] = ("--out",)) -> None:
    parser.add_argument(
        "--synth-dir",
        default=DEFAULT_SYNTH_DIR,
        metavar="DIR",
        help=f"synth output directory (default: {DEFAULT_SYNTH_DIR})",
    )
    for spelling in retired:
        parser.add_argument(spelling, action=_Renamed, nargs=1, help=argparse.SUPPRESS)


def terraform_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider-mirror", help="filesystem mirror holding hashicorp/aws (offline use)")
    parser.add_argument("--terraform", help="terraform binary (default: from PATH)")


class _Renamed(argparse.Action):
    """An earlier spelling of --synth-dir (``--out`` meant a directory for some commands and a file
    for others): refused with the new name, in argparse's one-line usage error."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.error(f"{self.option_strings[0]} is now --synth-dir (--out always names a file a command writes)")
