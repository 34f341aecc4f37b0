"""``payments-platform contract [--url URL]`` (registered by core/cli.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..config import find_config_file
from ..errors import ConfigError
from . import API_KEY_ENV, run_contract

DEFAULT_REPORT_DIR = "schemathesis-report"


def add_parser(commands: argparse._SubParsersAction) -> None:
    contract = commands.add_parser(
        "contract",
        help="check docs/openapi.yaml against a running API with schemathesis (exit 0: no failures)",
    )
    contract.add_argument(
        "--url",
        help=f"the API's base URL, stage included (key from ${API_KEY_ENV}); default: the running `local up --keep`",
    )
    contract.add_argument("--report-dir", default=DEFAULT_REPORT_DIR, help=f"where the JSON report goes (default: {DEFAULT_REPORT_DIR})")


def cmd_contract(args: argparse.Namespace) -> int:
    root = find_config_file(args.config).parent
    url, api_key = (args.url, os.environ.get(API_KEY_ENV, "")) if args.url else _local_target(args.config)
    report = run_contract(url, api_key, root=root, report_dir=Path(args.report_dir))
    print(report.summary())
    print(f"report: {report.report_path}")
    return 0 if report.passed else 1


def _local_target(config_path: str | None) -> tuple[str, str]:
    """The URL and first client key of the deployment a `local up --keep` left running."""
    from ..local.emulator import alive
    from ..local.lifecycle import RunRecord, default_run

    running = RunRecord.load(default_run(config_path).record_file)
    if running is None or not running.url or not running.gateway_pid or not alive(running.gateway_pid):
        raise ConfigError("no --url and no running local deployment: `payments-platform local up --keep` first, or pass --url")
    return running.url, sorted(running.api_keys.values())[0] if running.api_keys else ""
