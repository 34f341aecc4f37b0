"""``payments-platform contract``: docs/openapi.yaml checked against a running API by schemathesis.

One run for CI and for real deployments: schemathesis (pinned in the ``contract`` extra) reads
every setting but the base URL from schemathesis.toml -- phases, checks, seed, case count, the
relaxations with their reasons -- and the API key from ``PAYMENTS_API_KEY`` (never the command
line, where ``ps`` would show it), plus, optionally, a second client's key to check tenant isolation. Its JSON report and HAR log are read back into a
:class:`ContractReport`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from payments_platform.core.errors import ConfigError, PlatformError
from payments_platform.core.ops.api_contract.identities import config_with_peers, identities_document
from payments_platform.core.ops.api_contract.report import CardDataCheck, ContractReport

API_KEY_ENV = "PAYMENTS_API_KEY"
PEER_API_KEY_ENV = "PAYMENTS_PEER_API_KEY"
OPENAPI_DOCUMENT = Path("docs/openapi.yaml")
SCHEMATHESIS_CONFIG = Path("schemathesis.toml")
REPORT_FILE = "contract-report.json"
HAR_FILE = "contract-exchanges.har"
DEFAULT_TIMEOUT_S = 900.0


class ContractError(PlatformError):
    """The contract run could not be made or did not produce a report."""


def check_base_url(url: str) -> str:
    """The API's base URL (scheme, host, stage path), e.g. ``https://abc.execute-api.eu-west-1.amazonaws.com/prod``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"--url {url!r} is not an API base URL like https://<api>.execute-api.<region>.amazonaws.com/<stage>"
        )
    return url.rstrip("/")


def schemathesis_executable() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        raise ContractError("schemathesis is not installed in this environment: pip install -e '.[contract]'")
    return found


def command(root: Path, config: Path, url: str, report_dir: Path) -> list[str]:
    return [
        schemathesis_executable(),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        str(root / OPENAPI_DOCUMENT),
        "--url",
        url,
        "--report",
        "json,har",
        "--report-json-path",
        str(report_dir / REPORT_FILE),
        "--report-har-path",
        str(report_dir / HAR_FILE),
    ]


def run_contract(
    url: str,
    api_key: str,
    *,
    holds_card_data: CardDataCheck,
    root: Path,
    report_dir: Path,
    peer_api_key: str | None = None,
    output: IO[bytes] | IO[str] | int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> ContractReport:
    """Run schemathesis against ``url`` and return its report; its output goes to ``output``
    (inherited when None). ``holds_card_data`` is the check every recorded response is read with
    (the enabled plugins' ``payments_card_data``). With ``peer_api_key`` (another client's key) the two clients are peers
    and object_level_authorization checks tenant isolation. The process (and anything it started)
    is gone when this returns."""
    url = check_base_url(url)
    if not api_key:
        raise ConfigError(f"no API key: set {API_KEY_ENV} to one of the deployment's client keys")
    for required in (OPENAPI_DOCUMENT, SCHEMATHESIS_CONFIG):
        if not (root / required).is_file():
            raise ConfigError(f"{required} not found in {root} (run from the payments-platform checkout)")
    report_dir = report_dir.resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    report_path, har_path = report_dir / REPORT_FILE, report_dir / HAR_FILE
    for stale in (report_path, har_path):
        stale.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="payments-contract-") as private:
        config = root / SCHEMATHESIS_CONFIG
        if peer_api_key:
            identities = Path(private) / "identities.json"
            identities.write_text(identities_document(api_key, peer_api_key))  # 0700 directory: keys stay private
            config = Path(private) / "schemathesis.toml"
            config.write_text(config_with_peers((root / SCHEMATHESIS_CONFIG).read_text(), identities))
        exit_code, seconds = _run(command(root, config, url, report_dir), root, api_key, output, timeout_s)
    if not report_path.is_file():
        raise ContractError(
            f"schemathesis exited with status {exit_code} after {seconds:.0f} s without a report "
            "(a configuration or schema error: see its output above)"
        )
    return ContractReport.read(report_path, har_path, exit_code, holds_card_data)


def _run(argv: list[str], root: Path, api_key: str, output: Any, timeout_s: float) -> tuple[int, float]:
    process = subprocess.Popen(
        argv,
        cwd=root,
        env={**os.environ, API_KEY_ENV: api_key},
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
    )
    started = time.perf_counter()
    try:
        exit_code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise ContractError(f"schemathesis did not finish within {timeout_s:.0f} s; stopped") from None
    except BaseException:
        _stop(process)
        raise
    return exit_code, time.perf_counter() - started


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
