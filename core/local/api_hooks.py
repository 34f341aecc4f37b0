"""The enabled plugins' ``local`` hooks (core/hookspec.py), called against a running deployment:
what ``local up`` prints for the user to try, what ``local smoke`` checks. The core knows no
detail of the API; it renders and runs what the plugins register."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from payments_platform.core.deployment_checks import ExampleRequest, LocalDeployment
from payments_platform.core.host.builder import environment_plugins
from payments_platform.core.host.config import load_config
from payments_platform.core.host.plugin_manager import PlatformPluginManager
from payments_platform.core.local.lifecycle import RunRecord
from payments_platform.core.local.processes import LocalRunError, emulator_client


def local_deployment(run_dir: Path, record: RunRecord) -> LocalDeployment:
    """The hooks' view of the deployment ``record`` describes."""
    if record.endpoint is None or record.url is None:
        raise LocalRunError(f"the local run in {run_dir} is not serving an API (no endpoint or URL recorded)")
    return LocalDeployment(
        environment=record.environment,
        suffix=record.suffix,
        region=record.region,
        endpoint=record.endpoint,
        url=record.url,
        api_keys=dict(record.api_keys),
        run_dir=run_dir,
        clients=partial(emulator_client, endpoint=record.endpoint, region=record.region),
    )


def deployed_plugins(config_path: str | Path | None, environment: str) -> PlatformPluginManager:
    """The plugins the deployed environment enables, for their ``local`` hooks."""
    return environment_plugins(load_config(config_path).environment(environment))


def curl_command(example: ExampleRequest) -> list[str]:
    """``example`` as a curl command line (continued over lines), quoted for a POSIX shell."""
    method = "" if example.method == "GET" and example.body is None else f"-X {example.method} "
    lines = [f"curl -si {method}{shlex.quote(example.url)}"]
    lines += [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in example.headers]
    if example.body is not None:
        lines.append(f"-d {shlex.quote(example.body)}")
    return [lines[0] + (" \\" if len(lines) > 1 else "")] + [
        f"     {line}" + (" \\" if n < len(lines) - 2 else "") for n, line in enumerate(lines[1:])
    ]


def example_lines(examples: Sequence[ExampleRequest]) -> list[str]:
    """The "try it" block ``local up`` prints."""
    if not examples:
        return []
    lines = ["", "Try it:"]
    for example in examples:
        if example.note:
            lines.append(f"  ({example.note})")
        lines += [f"  {line}" for line in curl_command(example)]
    return lines


def example_requests(config_path: str | Path | None, run_dir: Path, record: RunRecord) -> list[ExampleRequest]:
    deployment = local_deployment(run_dir, record)
    return deployed_plugins(config_path, record.environment).example_requests(deployment)
