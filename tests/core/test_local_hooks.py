"""The ``local`` hooks: what plugins register for the core's local tools (examples at `local up`,
`local smoke`'s checks, chaos scenarios, card data), checked and attributed by the host; the api
plugin's registrations; and the core running them without knowing the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from payments_platform.core import (
    CardDataDetector,
    ChaosScenario,
    CheckFailed,
    ExampleRequest,
    FaultRule,
    LocalDeployment,
    SmokeCheck,
    hookimpl,
)
from payments_platform.core.errors import PluginHookError
from payments_platform.core.host.builder import plugin_sources
from payments_platform.core.host.plugin_manager import PlatformPluginManager, in_process_source
from payments_platform.core.local.api_hooks import curl_command, example_lines
from payments_platform.core.local.smoke import run_checks, run_cleanups
from payments_platform.runtime.redaction import contains_card_data


class DeployedFunctions:
    """Lambda's GetFunctionConfiguration over the given functions' environment variables: how the
    payments scenario finds the processor's connector (none: intake only)."""

    def __init__(self, variables: dict[str, dict[str, str]]) -> None:
        self._variables = variables

    def get_function_configuration(self, FunctionName: str) -> dict[str, Any]:  # noqa: N803 -- boto3's name
        return {"Environment": {"Variables": self._variables[FunctionName]}}


INTAKE_ONLY = {"transaction-processor-local": {}}
WITH_SIMULATOR = {
    "transaction-processor-local": {"CONNECTOR_FUNCTION_NAME": "connector-local", "AUTHORIZATION_BUDGET_MS": "3000"},
    "connector-local": {"LEDGER_TABLE_NAME": "ledger-local"},
}


def deployment(
    tmp_path: Path = Path("/nonexistent"), functions: dict[str, dict[str, str]] = INTAKE_ONLY
) -> LocalDeployment:
    def clients(service: str) -> Any:
        if service == "lambda":
            return DeployedFunctions(functions)
        pytest.fail(f"no AWS call expected ({service})")

    return LocalDeployment(
        environment="local",
        suffix="local",
        region="us-east-1",
        endpoint="http://127.0.0.1:1",
        url="http://127.0.0.1:2/prod",
        api_keys={"client-a": "key-a", "client-b": "key-b"},
        run_dir=tmp_path,
        clients=clients,
    )


def manager(**plugins: Any) -> PlatformPluginManager:
    sources = {name: in_process_source(name, plugin) for name, plugin in plugins.items()}
    return PlatformPluginManager(sorted(plugins), sources, environment="test")


class Plugin:
    """An in-process plugin registering what it is given, per hook."""

    def __init__(self, name: str, **registrations: list[Any]) -> None:
        self.name, self.registrations = name, registrations

    @hookimpl
    def payments_declare(self) -> Any:
        from payments_platform.core import PluginDeclaration

        return PluginDeclaration(name=self.name, description="test")

    @hookimpl
    def payments_smoke_checks(self, deployment: LocalDeployment, register: Any) -> None:
        for item in self.registrations.get("smoke", []):
            register(item)

    @hookimpl
    def payments_card_data(self, register: Any) -> None:
        for item in self.registrations.get("card_data", []):
            register(item)


def check(name: str, outcome: str = "ok") -> SmokeCheck:
    return SmokeCheck(name, lambda: outcome)


# -- the host: registration checked, attributed, ordered by plugin name --------------------------


def test_registrations_come_back_by_plugin_name_each_plugin_in_its_own_order():
    host = manager(
        zeta=Plugin("zeta", smoke=[check("z1")]),
        alpha=Plugin("alpha", smoke=[check("a2"), check("a1")]),
    )
    registered = host.smoke_checks(deployment())
    assert [(plugin, c.name) for plugin, c in registered] == [("alpha", "a2"), ("alpha", "a1"), ("zeta", "z1")]


def test_registering_the_wrong_type_is_an_error_naming_the_plugin():
    host = manager(shop=Plugin("shop", smoke=["GET /orders"]))
    with pytest.raises(
        PluginHookError, match=r"plugin 'shop'.*registered str in payments_smoke_checks; expected SmokeCheck"
    ):
        host.smoke_checks(deployment())


def test_a_name_registered_twice_is_an_error_naming_both_plugins():
    host = manager(one=Plugin("one", smoke=[check("orders")]), two=Plugin("two", smoke=[check("orders")]))
    with pytest.raises(PluginHookError, match=r"plugin 'two'.*'orders'.*already registered by plugin 'one'"):
        host.smoke_checks(deployment())


def test_a_plugin_without_the_hook_registers_nothing():
    assert manager(quiet=Plugin("quiet")).card_data_detectors() == []


# -- the api plugin's registrations ------------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> PlatformPluginManager:
    return PlatformPluginManager(["api"], plugin_sources(), environment="test")


def test_the_api_plugin_prints_a_payment_and_a_status_read_to_try(api):
    examples = api.example_requests(deployment())
    assert [(e.method, e.url.split("?")[0]) for e in examples] == [
        ("POST", "http://127.0.0.1:2/prod/transactions"),
        ("GET", "http://127.0.0.1:2/prod/status"),
    ]
    assert ("x-api-key", "key-a") in examples[0].headers and "Idempotency-Key" in dict(examples[0].headers)
    printed = "\n".join(example_lines(examples))
    assert "curl -si -X POST http://127.0.0.1:2/prod/transactions" in printed and "Idempotent-Replayed" in printed


def test_the_api_plugin_checks_a_payment_end_to_end_in_the_smoke_order(api):
    names = [check.name for _, check in api.smoke_checks(deployment())]
    assert names == [
        "subscribe to payment events",
        "POST /transactions",
        "replay with the same Idempotency-Key",
        "GET /status",
        "no API key",
        "invalid body",
        "CORS preflight",
        "the item in the table",
        "the audit message (FIFO queue, or its archive where the archiver reads it)",
        "the event on the topic",
        "the function logs in their log groups",
    ]
    # The temporary subscription the first check makes is removed whatever happens after it.
    assert api.smoke_checks(deployment())[0][1].cleanup is not None


def test_the_api_plugin_registers_the_payments_scenario_with_the_faults_of_issue_16(api):
    scenarios = api.chaos_scenarios(deployment())
    assert list(scenarios) == ["payments"] and isinstance(scenarios["payments"], ChaosScenario)
    faults = scenarios["payments"].faults()
    assert all(isinstance(rule, FaultRule) for rule in faults)
    assert {(rule.kind, rule.service, rule.action) for rule in faults} >= {
        ("error", "dynamodb", "TransactWriteItems"),
        ("error_after", "dynamodb", "TransactWriteItems"),
        ("stall", "sqs", "SendMessage"),
        ("error", "sns", "Publish"),
        ("kill", "function", "Invoke"),
        ("cold_start", "function", "Init"),
    }
    assert {rule.resource for rule in faults if rule.service == "function"} == {"transaction-processor-local"}


def test_with_the_simulator_the_scenario_also_breaks_the_connector_and_pays_with_its_test_cards(api):
    scenario = api.chaos_scenarios(deployment(functions=WITH_SIMULATOR))["payments"]
    faults = scenario.faults()
    on_ledger = {(rule.kind, rule.action) for rule in faults if rule.resource == "ledger-local"}
    assert on_ledger == {("error_after", "PutItem"), ("stall", "PutItem")}
    assert [r.delay_ms for r in faults if r.kind == "stall" and r.resource == "ledger-local"] == [
        3700
    ]  # past the budget
    aimed = {(rule.resource, rule.contains) for rule in faults if rule.kind == "kill" and rule.contains}
    marker = f"chaos-{scenario.run_id}-"
    assert aimed == {("transaction-processor-local", marker + "wait-"), ("connector-local", marker + "cut-")}
    requests = [scenario.request(n, "client-a") for n in range(24)]
    cards = {json.loads(r.body)["card"]["number"] for r in requests}
    assert {"4000000000000002", "4000000000009995", "4000000000000119", "4000000000007775"} <= cards
    assert {r.reference.split("-")[2] for r in requests if "-wait-" in r.reference or "-cut-" in r.reference} == {
        "wait",
        "cut",
    }


def test_intake_only_the_scenario_breaks_no_connector(api):
    faults = api.chaos_scenarios(deployment())["payments"].faults()
    assert not any(rule.contains.endswith(("wait-", "cut-")) or rule.action == "PutItem" for rule in faults)


def test_the_api_plugin_card_data_detector_is_the_runtime_one(api):
    ((plugin, detector),) = api.card_data_detectors()
    assert plugin == "api" and isinstance(detector, CardDataDetector) and detector.found is contains_card_data


def test_a_scenario_request_carries_a_test_card_and_a_fresh_idempotency_key(api):
    scenario = api.chaos_scenarios(deployment())["payments"]
    first, second = scenario.request(0, "client-a"), scenario.request(1, "client-b")
    assert (first.method, first.path, first.client) == ("POST", "/transactions", "client-a")
    assert first.idempotency_key != second.idempotency_key and contains_card_data(first.body.decode())


# -- the core running what was registered ------------------------------------------------------


def test_curl_lines_quote_what_a_shell_would_split():
    example = ExampleRequest("POST", "http://h/p", (("x-api-key", "k"),), '{"a": "it\'s"}')
    assert curl_command(example) == [
        "curl -si -X POST http://h/p \\",
        "     -H 'x-api-key: k' \\",
        '     -d \'{"a": "it\'"\'"\'s"}\'',
    ]


def test_no_examples_print_nothing():
    assert example_lines([]) == []


def test_the_first_failing_check_ends_the_run_and_says_what_it_found():
    said: list[str] = []

    def fails() -> str:
        raise CheckFailed("the answer holds card data")

    ran: list[str] = []
    checks = [
        ("shop", check("first")),
        ("shop", SmokeCheck("second", fails)),
        ("shop", SmokeCheck("third", lambda: ran.append("third") or "")),
    ]
    assert run_checks(said.append, checks) is False
    assert said[0].startswith("✓ first: ok (") and said[1] == "✗ second: the answer holds card data"
    assert ran == [] and len(said) == 2


def test_a_check_that_breaks_fails_the_run_naming_its_plugin_without_a_traceback():
    said: list[str] = []
    checks = [("shop", SmokeCheck("orders", lambda: {}["missing"]))]
    assert run_checks(said.append, checks) is False
    assert said == ["✗ orders: KeyError: 'missing' (a check of plugin 'shop')"]


def test_every_cleanup_runs_last_first_even_when_one_fails():
    said: list[str] = []
    cleaned: list[str] = []

    def broken() -> None:
        raise RuntimeError("emulator gone")

    checks = [
        ("shop", SmokeCheck("a", lambda: "", lambda: cleaned.append("a"))),
        ("shop", SmokeCheck("b", lambda: "", broken)),
        ("shop", SmokeCheck("c", lambda: "")),
    ]
    run_cleanups(said.append, checks)
    assert cleaned == ["a"] and said == ["  (plugin 'shop' could not clean up after 'b': emulator gone)"]


# -- Done-when: the core knows no payment detail -------------------------------------------------

CORE = Path(__file__).resolve().parents[2] / "core"


@pytest.mark.parametrize(
    "literal", ["4242424242424242", "5555555555554444", "378282246310005", "/transactions", "transaction-processor"]
)
def test_the_core_local_tools_hold_no_payment_literal(literal):
    found = [
        str(path.relative_to(CORE))
        for folder in ("local", "testing")
        for path in sorted((CORE / folder).rglob("*.py"))
        if literal in path.read_text()
    ]
    assert found == []


def test_the_payments_scenario_says_where_card_data_is_without_repeating_it(api, tmp_path):
    from payments_platform.plugins.api.chaos_scenario import DeliveryWatch, PaymentsScenario

    scenario = PaymentsScenario(deployment(tmp_path))
    scenario._watch = DeliveryWatch(None, "", "")
    scenario._items = [{"transaction_id": {"S": "txn_1"}, "timestamp": {"N": "1765012345678"}}]
    (tmp_path / "gateway.log").write_text(
        "START RequestId: 0f8e2d1c-1234-4123-8123-424242424242\nrefused card 4242424242424242\n"
    )
    found = scenario._card_data_found([])
    assert found == ["gateway.log line 2: refused card [REDACTED_PAN]"]
    scenario._items.append({"note": {"S": "cvc: 737"}})
    assert scenario._card_data_found([])[0] == "the table"  # too short for the mask: not shown at all


def test_table_scans_skip_numbers_and_hmac_derived_ids_but_not_what_a_client_wrote():
    from payments_platform.plugins.api.local_checks import items_hold_card_data

    digest = "247e53cdbd8ca8dc49ee5f7e4425c17168d" + "4242424242424242" + "f532249c46115"
    derived = [
        {"transaction_id": {"S": f"idem_{digest}"}, "card_fingerprint": {"S": f"cfp_{digest}"}},
        {"request_fingerprint": {"S": digest}},
    ]
    assert not items_hold_card_data([*derived, {"timestamp": {"N": "4242424242424242"}}])
    assert items_hold_card_data([*derived, {"description": {"S": f"idem_{digest} 4242 4242 4242 4242"}}])
