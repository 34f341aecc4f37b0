"""The published contract, docs/openapi.yaml, held by the running API: schemathesis -- every phase,
every check, seed and case count from schemathesis.toml -- through `payments-platform contract`'s
own code, against the deployment `local up` made for this session, with its two clients as peers
(object_level_authorization: neither reads the other's transactions).

After test_local_api.py (file order), so the fuzzer's thousands of transactions and audit messages
do not crowd what the smoke steps look for; before test_teardown.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from e2e_support import REPO, TIMINGS, LocalDeployment

from payments_platform.core.cli.contract import card_data_check
from payments_platform.core.ops.api_contract import HAR_FILE, run_contract
from payments_platform.core.ops.api_contract.report import ContractReport

pytestmark = pytest.mark.terraform

# Issue #12: at least this many generated cases per CI run.
MIN_GENERATED_CASES = 2000
PHASES = {"examples": "success", "coverage": "success", "fuzzing": "success", "stateful": "success"}
RUN_TIMEOUT_S = 600
LOG_TAIL_LINES = 80


@pytest.fixture(scope="module")
def contract(deployment: LocalDeployment, tmp_path_factory: pytest.TempPathFactory) -> tuple[ContractReport, Path]:
    report_dir = tmp_path_factory.mktemp("contract")
    log = report_dir / "schemathesis.log"
    # Two clients: the second is the peer object_level_authorization reads each transaction as.
    client, peer = (deployment.record.api_keys[name] for name in sorted(deployment.record.api_keys))
    started = time.perf_counter()
    with log.open("wb") as output:
        report = run_contract(
            deployment.url,
            client,
            holds_card_data=card_data_check(str(REPO / "environments.toml"), deployment.environment.name),
            peer_api_key=peer,
            root=REPO,
            report_dir=report_dir,
            output=output,
            timeout_s=RUN_TIMEOUT_S,
        )
    TIMINGS["contract (schemathesis)"] = time.perf_counter() - started
    return report, log


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])


def test_the_running_api_keeps_its_published_contract(contract):
    report, log = contract
    assert (report.exit_code, report.failures, report.errors) == (0, 0, 0), _tail(log)


def test_every_phase_runs_and_passes(contract):
    report, log = contract
    assert report.phases == PHASES, _tail(log)


def test_a_run_generates_at_least_2000_cases(contract):
    report, _ = contract
    assert report.generated >= MIN_GENERATED_CASES


def test_no_response_carries_the_card_data_of_its_request(contract):
    report, _ = contract
    assert report.exchanges >= report.generated
    assert report.card_data_echoes == []


def test_stateful_testing_reads_created_transactions_through_the_link(contract):
    """Generated ids answer 404; a 200 from GET /status means the link fed it a created transaction's id."""
    report, _ = contract
    entries = json.loads((report.report_path.parent / HAR_FILE).read_text())["log"]["entries"]
    reads = [e for e in entries if e["request"]["method"] == "GET" and "/status?" in e["request"]["url"]]
    assert any(e["response"]["status"] == 200 for e in reads)
