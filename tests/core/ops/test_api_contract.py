"""`payments-platform contract`'s own parts, without an API: the URL and key it accepts, the card-data
scan of its HTTP log, and the check that keeps the one relaxation of positive_data_acceptance precise."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from payments_platform.core.errors import ConfigError
from payments_platform.core.ops.api_contract import check_base_url, run_contract
from payments_platform.core.ops.api_contract.checks import schema_valid_rejection_is_documented
from payments_platform.core.ops.api_contract.report import card_data_echoes as echoes
from payments_platform.runtime.redaction import contains_card_data

from cli_runner import run_cli

REPO = Path(__file__).resolve().parents[3]
PAN = "4242424242424242"


def card_data_echoes(entries: list[dict]) -> list[str]:
    return list(echoes(entries, contains_card_data))


def exchange(request_body: str | None, response_body: str, headers: dict[str, str] | None = None) -> dict:
    return {
        "request": {
            "method": "POST",
            "url": "http://api/prod/transactions",
            **({"postData": {"text": request_body}} if request_body is not None else {}),
        },
        "response": {
            "status": 400,
            "content": {"text": response_body},
            "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
        },
    }


def card_body(number: str = PAN, cvc: str = "123") -> str:
    return f'{{"amount": 1, "card": {{"number": "{number}", "cvc": "{cvc}", "exp_month": 1, "exp_year": 2040}}}}'


def test_a_response_echoing_the_sent_card_number_is_reported():
    assert list(card_data_echoes([exchange(card_body(), f'{{"error": {{"message": "bad {PAN}"}}}}')])) == [
        "POST http://api/prod/transactions → 400"
    ]


def test_a_header_echoing_the_sent_card_number_is_reported():
    assert len(list(card_data_echoes([exchange(card_body(), "{}", {"x-debug": PAN})]))) == 1


def test_a_response_with_a_cvc_field_is_reported():
    assert len(list(card_data_echoes([exchange(None, '{"card": {"last4": "4242", "cvc": "123"}}')]))) == 1


def test_a_response_with_brand_and_last4_only_is_clean():
    clean = '{"transaction_id": "txn_x", "card": {"brand": "visa", "last4": "4242"}}'
    assert list(card_data_echoes([exchange(card_body(), clean), exchange("not json", clean)])) == []


def test_short_generated_numbers_are_not_taken_for_card_numbers():
    assert list(card_data_echoes([exchange(card_body(number="000"), '{"error": {"request_id": "000-1"}}')])) == []


@pytest.mark.parametrize("url", ["ftp://host/prod", "host/prod", "http:///prod", "https://h/prod?x=1"])
def test_a_url_that_is_not_an_api_base_url_is_refused(url):
    with pytest.raises(ConfigError, match="is not an API base URL"):
        check_base_url(url)


def test_the_base_url_keeps_its_stage_and_loses_a_trailing_slash():
    assert check_base_url("https://abc.execute-api.eu-west-1.amazonaws.com/prod/") == (
        "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
    )


def test_a_run_without_an_api_key_is_refused_before_schemathesis_starts(tmp_path):
    with pytest.raises(ConfigError, match="PAYMENTS_API_KEY"):
        run_contract("http://127.0.0.1:1/prod", "", holds_card_data=contains_card_data, root=REPO, report_dir=tmp_path)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=REPO)


def test_cli_bad_url_is_one_line_and_exit_2():
    result = _cli("contract", "--url", "ftp://example.com/prod")
    assert (result.returncode, result.stderr.count("\n"), "Traceback" in result.stderr) == (2, 1, False)
    assert "is not an API base URL" in result.stderr


def test_cli_without_url_and_without_a_local_run_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "environments.toml"
    config.write_text((REPO / "environments.toml").read_text())
    result = _cli("--config", str(config), "contract")
    assert (result.returncode, result.stderr.count("\n")) == (2, 1)
    assert "no running local deployment" in result.stderr


# -- the check: fakes of the schemathesis objects it reads -----------------------------------------------

DOCUMENTED_400 = {"x-schema-valid-rejections": ["card_number_invalid"], "x-draft-04-rejections": ["invalid_body"]}


def fake_case(body, *, positive: bool = True) -> SimpleNamespace:
    mode = SimpleNamespace(is_positive=positive, is_negative=not positive)
    return SimpleNamespace(
        body=body,
        meta=SimpleNamespace(generation=SimpleNamespace(mode=mode), components={"body": SimpleNamespace(mode=mode)}),
        operation=SimpleNamespace(
            responses=SimpleNamespace(find_by_status_code=lambda status: SimpleNamespace(definition=DOCUMENTED_400))
        ),
    )


def fake_response(code: str, status: int = 400) -> SimpleNamespace:
    return SimpleNamespace(status_code=status, json=lambda: {"error": {"code": code}})


VALID_BODY = {
    "amount": 1,
    "currency": "EUR",
    "merchant_reference": "r",
    "card": {"number": PAN, "exp_month": 1, "exp_year": 2040, "cvc": "123"},
}


def test_check_accepts_a_documented_card_rule_for_schema_valid_data():
    assert (
        schema_valid_rejection_is_documented(None, fake_response("card_number_invalid"), fake_case(VALID_BODY)) is None
    )


def test_check_fails_an_undocumented_400_for_schema_valid_data():
    with pytest.raises(AssertionError, match="`parameter_unknown`"):
        schema_valid_rejection_is_documented(None, fake_response("parameter_unknown"), fake_case(VALID_BODY))


def test_check_accepts_a_gateway_rejection_only_when_the_draft_04_model_rejects_the_body():
    whole_float = {**VALID_BODY, "card": {**VALID_BODY["card"], "exp_month": 3.0}}
    assert schema_valid_rejection_is_documented(None, fake_response("invalid_body"), fake_case(whole_float)) is None
    with pytest.raises(AssertionError, match="`invalid_body`"):
        schema_valid_rejection_is_documented(None, fake_response("invalid_body"), fake_case(VALID_BODY))


def test_check_leaves_negative_data_to_negative_data_rejection():
    assert schema_valid_rejection_is_documented(None, fake_response("anything"), fake_case({}, positive=False)) is None


# -- peers: the two clients object_level_authorization compares ------------------------------------------


def test_with_a_peer_the_config_names_both_clients_instead_of_one_key(tmp_path):
    import json
    import tomllib

    from payments_platform.core.ops.api_contract.identities import config_with_peers, identities_document

    repo_config = tomllib.loads((REPO / "schemathesis.toml").read_text())
    derived = tomllib.loads(config_with_peers((REPO / "schemathesis.toml").read_text(), tmp_path / "ids.json"))
    assert derived["auth"] == {"wfc": {"path": str(tmp_path / "ids.json"), "peers": ["client", "peer"]}}
    assert {k: v for k, v in derived.items() if k != "auth"} == {k: v for k, v in repo_config.items() if k != "auth"}
    users = json.loads(identities_document("key-a", "key-b"))["auth"]
    assert [(u["name"], u["fixedHeaders"]) for u in users] == [
        ("client", [{"name": "x-api-key", "value": "key-a"}]),
        ("peer", [{"name": "x-api-key", "value": "key-b"}]),
    ]


def test_a_config_whose_last_table_is_not_the_key_cannot_take_peers(tmp_path):
    from payments_platform.core.ops.api_contract.identities import IdentitiesError, config_with_peers

    with pytest.raises(IdentitiesError, match="must end with"):
        config_with_peers('[auth.openapi.api_key]\napi_key = "x"\n[generation]\nseed = 1\n', tmp_path / "ids.json")
