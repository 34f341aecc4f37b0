"""grant_table: the only way another plugin's function gets at the transactions table."""

from __future__ import annotations

import re

import pytest

from payments_platform.core import RegistrationError, keys
from payments_platform.plugins.storage.grants import TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS, grant_table

TABLE = keys.Table(
    name="payment-transactions-test",
    arn="arn:aws:dynamodb:us-east-1:123456789012:table/payment-transactions-test",
    hash_key="transaction_id",
    range_key="timestamp",
)
KMS = keys.KmsKey(arn="arn:aws:kms:us-east-1:123456789012:key/k", key_id="k", alias_name="alias/payments-key-test")


def grant(roles, actions, sid="Transactions"):
    grant_table(roles, "fn", TABLE, KMS, actions=actions, sid=sid, region="us-east-1")
    return roles.statements()


def test_table_statement_grants_exactly_the_actions_on_the_table_arn(roles):
    statement = grant(roles, TABLE_READ_ACTIONS)["Transactions"]
    assert (statement["Action"], statement["Resource"]) == (sorted(TABLE_READ_ACTIONS), TABLE.arn)


def test_read_grant_gives_decrypt_only(roles):
    assert grant(roles, TABLE_READ_ACTIONS)["TransactionsKms"]["Action"] == ["kms:Decrypt"]


def test_write_grant_adds_generate_data_key(roles):
    assert grant(roles, TABLE_WRITE_ACTIONS)["TransactionsKms"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_key_use_is_on_the_cmk_through_dynamodb_in_the_region_only(roles):
    statement = grant(roles, TABLE_READ_ACTIONS)["TransactionsKms"]
    assert (statement["Resource"], statement["Condition"]) == (
        KMS.arn,
        {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
    )


@pytest.mark.parametrize("action", ["dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:DeleteItem", "dynamodb:*", "*"])
def test_non_item_level_action_is_refused_by_name(roles, action):
    with pytest.raises(RegistrationError, match=re.escape(f"'{action}' is not an item-level action")):
        grant(roles, ["dynamodb:GetItem", action])


def test_refused_grant_leaves_the_role_untouched(roles):
    with pytest.raises(RegistrationError):
        grant(roles, ["dynamodb:Scan"])
    assert roles.statements() == {}


def test_actions_given_as_one_string_are_refused(roles):
    with pytest.raises(RegistrationError, match="not the string"):
        grant(roles, "dynamodb:GetItem")
