"""The connector checks of the chaos scenario (plugins/api/connector_chaos.py) fail for what they
name: a second authorization of a payment, an authorization under a key no transaction has, a
status other than the card's -- and accept `failed`/`not_submitted` only where the ledger says the
acquirer never saw the authorize."""

from __future__ import annotations

from payments_platform.plugins.api.connector_chaos import (
    KILL_EVERY,
    SLOW_CARD,
    STRIPE_TEST_CARDS,
    LedgerCheck,
    card_for,
    expected_outcome,
)


def _transaction(status: str, decline_code: str | None = None, amount: int = 100) -> dict:
    item = {"status": {"S": status}, "amount": {"N": str(amount)}}
    return item | ({"decline_code": {"S": decline_code}} if decline_code else {})


def _entry(key: str, outcome: str, decline_code: str | None, by: str = "authorize", amount: int = 100) -> dict:
    item = {"idempotency_key": {"S": key}, "outcome": {"S": outcome}, "recorded_by": {"S": by}}
    if by == "authorize":
        item["amount"] = {"N": str(amount)}
    return item | ({"decline_code": {"S": decline_code}} if decline_code else {})


def _check(transactions: dict, cards: dict, ledger: list) -> LedgerCheck:
    amounts = {int(t["amount"]["N"]): key for key, t in transactions.items()}
    return LedgerCheck(transactions=transactions, cards=cards, amounts=amounts, ledger=ledger)


def test_each_card_in_its_dictated_status_passes():
    check = _check(
        {"t1": _transaction("declined", "insufficient_funds"), "t2": _transaction("authorized", amount=101)},
        {"t1": "4000000000009995", "t2": SLOW_CARD},
        [_entry("t1", "declined", "insufficient_funds"), _entry("t2", "authorized", None, amount=101)],
    )
    assert check.failures() == []
    assert check.figures()["ledger_authorizations"] == 2


def test_a_status_other_than_the_cards_fails():
    check = _check({"t1": _transaction("authorized")}, {"t1": "4000000000000002"}, [_entry("t1", "authorized", None)])
    [failure] = check.failures()
    assert "not in the status their card dictates" in failure and "generic_decline" in failure


def test_not_submitted_passes_only_where_a_status_query_closed_the_key():
    closed = _check(
        {"t1": _transaction("failed", "not_submitted")},
        {"t1": "4242424242424242"},
        [_entry("t1", "failed", "not_submitted", by="status")],
    )
    assert closed.failures() == [] and closed.figures()["not_submitted"] == 1
    claimed = _check(
        {"t1": _transaction("failed", "not_submitted")},
        {"t1": "4242424242424242"},
        [_entry("t1", "failed", "not_submitted")],
    )
    assert claimed.failures()


def test_a_second_authorization_of_a_payment_under_another_key_fails():
    check = _check(
        {"t1": _transaction("authorized")},
        {"t1": "4242424242424242"},
        [_entry("t1", "authorized", None), _entry("t9", "authorized", None)],
    )
    failures = check.failures()
    assert any("authorized more than once" in f for f in failures)
    assert any("keys no transaction of the run has" in f for f in failures)


def test_a_transaction_without_a_ledger_entry_fails():
    [failure] = _check({"t1": _transaction("processing")}, {"t1": "4242424242424242"}, []).failures()
    assert "no ledger entry" in failure


def test_the_mix_pays_with_every_test_card_and_aims_kills_at_the_slow_card():
    cards = [card_for(n) for n in range(200)]
    assert set(STRIPE_TEST_CARDS) <= {pan for pan, _, _ in cards}
    aimed = [(pan, aim) for pan, _, aim in cards if aim != "mix"]
    assert {aim for _, aim in aimed} == {"wait", "cut"} and len(aimed) == 200 // KILL_EVERY
    assert {pan for pan, _ in aimed} == {SLOW_CARD}
    assert expected_outcome("4000000000000119") == ("failed", "processing_error")
