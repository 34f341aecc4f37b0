"""``payments-platform contract [--url URL]`` ."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from payments_platform.core.cli.options import env_option
from payments_platform.core.cli.registry import Commands
from payments_platform.core.errors import ConfigError
from payments_platform.core.host.config import find_config_file
from payments_platform.core.local import DEFAULT_ENVIRONMENT
from payments_platform.core.ops.api_contract import API_KEY_ENV, PEER_API_KEY_ENV

DEFAULT_REPORT_DIR = "schemathesis-report"


def register(commands: Commands) -> None:
    contract = commands.add(
        "contract",
        help="check docs/openapi.yaml against a running API with schemathesis (exit 0: no failures)",
        handler=cmd_contract,
    )
    contract.add_argument(
        "--url",
        help=f"the API's base URL, stage included (key from ${API_KEY_ENV}, optionally another client's from "
        f"${PEER_API_KEY_ENV}); default: the running `local up --keep`",
    )
    env_option(
        contract,
        default=DEFAULT_ENVIRONMENT,
        help=f"the environment whose plugins say what card data is (default: {DEFAULT_ENVIRONMENT})",
    )
    contract.add_argument(
        "--report-dir",
        default=DEFAULT_REPORT_DIR,
        help=f"where the JSON report and the HAR log go (default: {DEFAULT_REPORT_DIR})",
    )


def cmd_contract(args: argparse.Namespace) -> int:
    root = find_config_file(args.config).parent
    if args.url:
        url, api_key, peer_api_key = args.url, os.environ.get(API_KEY_ENV, ""), os.environ.get(PEER_API_KEY_ENV) or None
    else:
        url, api_key, peer_api_key = local_target(args.config)
    if peer_api_key is None:
        print(
            f"one client key: tenant isolation (object_level_authorization) needs a second one in ${PEER_API_KEY_ENV}"
        )
    from payments_platform.core.ops.api_contract import run_contract

    report = run_contract(
        url,
        api_key,
        holds_card_data=card_data_check(args.config, args.env),
        root=root,
        report_dir=Path(args.report_dir),
        peer_api_key=peer_api_key,
    )
    print(report.summary())
    print(f"report: {report.report_path}")
    return 0 if report.passed else 1


def local_target(config_path: str | None) -> tuple[str, str, str | None]:
    """The URL and two client keys (the second, if any, as peer) of a running `local up --keep`."""
    from payments_platform.core.local.lifecycle import RunRecord, default_run
    from payments_platform.core.local.processes import alive

    running = RunRecord.load(default_run(config_path).record_file)
    if running is None or not running.url or not running.gateway_pid or not alive(running.gateway_pid):
        raise ConfigError(
            "no --url and no running local deployment: `payments-platform local up --keep` first, or pass --url"
        )
    keys = [running.api_keys[client] for client in sorted(running.api_keys)]
    return running.url, (keys[0] if keys else ""), (keys[1] if len(keys) > 1 else None)


def card_data_check(config_path: str | None, environment: str) -> Callable[[str], bool]:
    """Card data as the environment's plugins define it (``payments_card_data``): found when any
    registered detector finds it. None registered is an error: the scan could not fail."""
    from payments_platform.core.host.builder import environment_plugins
    from payments_platform.core.host.config import load_config

    plugins = environment_plugins(load_config(config_path).environment(environment))
    detectors = [detector for _, detector in plugins.card_data_detectors()]
    if not detectors:
        raise ConfigError(
            f"no plugin enabled in environment '{environment}' registers a card-data detector (payments_card_data): "
            "the contract run could not check its responses for card data"
        )
    return lambda text: any(detector.found(text) for detector in detectors)
