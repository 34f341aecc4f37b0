"""Issue #28's "done when": a throwaway connector distribution made by `new-plugin --kind connector`
(its own handler through function_package, its own ledger), installed in a throwaway venv and
enabled in `local` in place of the acquirer simulator, decides the outcome of payments over HTTP
on `local up`: an amount ending in 13 is declined (generic_decline), another authorized -- in the
POST answer, GET /status and its ledger -- and the simulator is not deployed at all.

The scaffold is used as generated (its tests are proven in tests/core/authoring/test_new_plugin.py).
One `local up --keep` of its own (the connector is part of the deployment, so the session's shared
one cannot stand in), from a copy of the seed's snapshot (tests/suite_snapshots.py): the nearest
stack, restored, then the connector applied in the simulator's place. Run inside the heavy lock.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_support import REGION, terraform_or_skip
from plugin_distributions import install_in_throwaway_venv
from suite_snapshots import copy_the_seed_into

from payments_platform.core.local.processes import emulator_client
from payments_platform.core.local.run_record import RunRecord
from payments_platform.core.local.snapshots import SNAPSHOTS_DIR_NAME, SNAPSHOTS_ENV_VAR
from payments_platform.plugins.api.local_checks import payment_body
from payments_platform.runtime.redaction import contains_card_data

from cli_runner import run_cli

pytestmark = [pytest.mark.terraform, pytest.mark.from_the_seed]

NAME = "throwaway_acquirer"
FUNCTION = "throwaway-acquirer-local"
LEDGER = "throwaway-acquirer-ledger-local"
REPO = Path(__file__).resolve().parents[2]
UP_TIMEOUT_S = 900
LOG_WAIT_S = 15
# Outside this venv, and outside the suite's snapshot store: a throwaway distribution's stack is not
# the suite's `local` (its snapshots stay in its own run directory, which starts with a copy of the seed's).
OUTSIDE_THIS_VENV = {"PYTHONPATH": None, "VIRTUAL_ENV": None, SNAPSHOTS_ENV_VAR: None}


@dataclass
class ConnectorDeployment:
    root: Path
    python: Path
    record: RunRecord

    def client(self, service: str) -> Any:
        assert self.record.endpoint is not None
        return emulator_client(service, self.record.endpoint, REGION)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
        assert self.record.url is not None
        headers = {"content-type": "application/json", "x-api-key": sorted(self.record.api_keys.values())[0]}
        if body is not None:
            headers["idempotency-key"] = str(uuid.uuid4())
        request = urllib.request.Request(f"{self.record.url}{path}", data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def pay(self, amount: int) -> tuple[int, dict[str, Any]]:
        return self.call("POST", "/transactions", payment_body(f"connector-e2e-{amount}", amount=amount))


def local_config_with(name: str) -> str:
    """environments.toml as the repository's, ``name`` enabled in `local` in place of the simulator."""
    config = (REPO / "environments.toml").read_text()
    config, swapped = re.subn(
        r'(\[environments\.local\]\n(?:[^\[]*\n)*?)enable = \["acquirer-simulator"\]', rf'\1enable = ["{name}"]', config
    )
    assert swapped == 1, "local's enable line moved: update this test"
    return config + f"\n[environments.local.settings.{name}]\ndecline_amounts_ending_in = 13\n"


@pytest.fixture(scope="module")
def connector_up() -> Iterator[ConnectorDeployment]:
    terraform_or_skip()
    with tempfile.TemporaryDirectory(prefix="payments-connector-") as tmp:
        root = Path(tmp)
        made = run_cli("new-plugin", NAME, "--kind", "connector", "--dir", root / "plugin")
        assert made.returncode == 0, made.stderr
        python, _ = install_in_throwaway_venv(root, root / "plugin")
        shutil.copytree(REPO / "compliance", root / "compliance")
        (root / "environments.toml").write_text(local_config_with(NAME))
        seeded = copy_the_seed_into(root / ".payments-local" / SNAPSHOTS_DIR_NAME)
        up = run_cli("local", "up", "--keep", cwd=root, python=python, env=OUTSIDE_THIS_VENV, timeout=UP_TIMEOUT_S)
        try:
            assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-2000:]
            # Issue #31: a changed stack restores the nearest snapshot and applies the difference.
            assert not seeded or "→ restore the snapshot of the nearest stack" in up.stdout, up.stdout[-3000:]
            record = RunRecord.load(root / ".payments-local" / "run.json")
            assert record is not None and record.url is not None
            yield ConnectorDeployment(root, python, record)
        finally:
            down = run_cli("local", "down", cwd=root, python=python, env=OUTSIDE_THIS_VENV, timeout=300)
            assert down.returncode == 0, down.stdout[-2000:] + down.stderr[-2000:]


def test_the_distributions_connector_replaces_the_simulator(connector_up):
    names = {f["FunctionName"] for f in connector_up.client("lambda").list_functions()["Functions"]}
    assert FUNCTION in names and not any(n.startswith("acquirer-simulator") for n in names), names
    processor = connector_up.client("lambda").get_function_configuration(FunctionName="transaction-processor-local")
    assert processor["Environment"]["Variables"]["CONNECTOR_FUNCTION_NAME"] == FUNCTION


def test_an_amount_ending_in_13_is_declined_by_the_connector_over_http(connector_up):
    status, answer = connector_up.pay(1013)
    assert (status, answer["status"], answer.get("decline_code")) == (201, "declined", "generic_decline"), answer
    read_back = connector_up.call("GET", f"/status?transaction_id={answer['transaction_id']}")
    assert read_back == (200, answer)
    assert answer["acquirer_reference"].startswith("throwaway-acquirer-")


def test_another_amount_is_authorized_and_recorded_once_in_the_connectors_ledger(connector_up):
    status, answer = connector_up.pay(1014)
    assert (status, answer["status"]) == (201, "authorized"), answer
    ledger = connector_up.client("dynamodb").get_item(
        TableName=LEDGER, Key={"idempotency_key": {"S": answer["transaction_id"]}}, ConsistentRead=True
    )["Item"]
    assert ledger["outcome"] == {"S": "authorized"}
    assert not contains_card_data(json.dumps(ledger))


def test_the_connector_logs_its_answers_without_card_data(connector_up):
    # The local Lambda service writes a container's lines to its log group every half second.
    deadline = time.monotonic() + LOG_WAIT_S
    while True:
        events = connector_up.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{FUNCTION}")["events"]
        answered = {json.loads(e["message"])["outcome"] for e in events if '"connector.answered"' in e["message"]}
        if answered >= {"declined", "authorized"} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert answered >= {"declined", "authorized"}
    assert not any(contains_card_data(e["message"]) for e in events)
