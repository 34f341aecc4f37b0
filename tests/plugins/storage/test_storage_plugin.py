"""The transactions table the storage plugin synthesizes, and the settings it accepts."""

from __future__ import annotations

import pytest

from payments_platform.core import ConfigError, keys
from payments_platform.core.testing import assert_resource, make_environment, synth

TABLE = "aws_dynamodb_table"


def test_table_is_named_with_the_environment_suffix(storage_stack):
    assert_resource(storage_stack, TABLE, {"name": "payment-transactions-test"})


def test_table_is_keyed_by_transaction_id_and_numeric_timestamp(storage_stack):
    assert_resource(
        storage_stack,
        TABLE,
        {
            "hash_key": "transaction_id",
            "range_key": "timestamp",
            "attribute": [
                {"name": "transaction_id", "type": "S"},
                {"name": "timestamp", "type": "N"},
                {"name": "dispatch_pending", "type": "S"},
                {"name": "lease_expires_at", "type": "N"},
            ],
        },
    )


def test_incomplete_dispatches_have_a_sparse_index_projecting_only_what_the_reconciler_reads(storage_stack):
    assert_resource(
        storage_stack,
        TABLE,
        {
            "global_secondary_index": [
                {
                    "name": "dispatch-pending",
                    "hash_key": "dispatch_pending",
                    "range_key": "lease_expires_at",
                    "projection_type": "INCLUDE",
                    "non_key_attributes": ["target_timestamp"],
                }
            ]
        },
    )


def test_table_bills_on_demand(storage_stack):
    assert_resource(storage_stack, TABLE, {"billing_mode": "PAY_PER_REQUEST"})


def test_point_in_time_recovery_is_on_by_default(storage_stack):
    assert_resource(storage_stack, TABLE, {"point_in_time_recovery": {"enabled": True}})


def test_table_is_encrypted_with_the_platform_cmk(storage_stack):
    (key_id,) = storage_stack.resources("aws_kms_key")
    expected = {"enabled": True, "kms_key_arn": f"${{aws_kms_key.{key_id}.arn}}"}
    assert_resource(storage_stack, TABLE, {"server_side_encryption": expected})


def test_ttl_is_on_for_expires_at_by_default(storage_stack):
    assert_resource(storage_stack, TABLE, {"ttl": {"enabled": True, "attribute_name": "expires_at"}})


def test_disabled_ttl_is_written_out_as_disabled(relaxed_storage_stack):
    # Omitting the block would leave TTL on for a table that had it; only enabled=false turns it off.
    (table,) = relaxed_storage_stack.resources(TABLE).values()
    assert table["ttl"] == {"enabled": False}


def test_point_in_time_recovery_can_be_disabled_outside_prod(relaxed_storage_stack):
    assert_resource(relaxed_storage_stack, TABLE, {"point_in_time_recovery": {"enabled": False}})


def test_table_is_destroyable(storage_stack):
    assert_resource(storage_stack, TABLE, {"deletion_protection_enabled": False})


def test_table_name_and_arn_are_stack_outputs(storage_stack, table_logical_id):
    outputs = storage_stack.outputs()
    assert (outputs["transactions_table_name"]["value"], outputs["transactions_table_arn"]["value"]) == (
        f"${{aws_dynamodb_table.{table_logical_id}.name}}",
        f"${{aws_dynamodb_table.{table_logical_id}.arn}}",
    )


def test_published_table_declares_its_key_schema(storage_stack):
    table, publisher = storage_stack.built.build.values[keys.TRANSACTIONS_TABLE.name]
    assert (publisher, table.hash_key, table.range_key) == ("storage", "transaction_id", "timestamp")


def test_published_table_name_is_a_reference_to_the_table(storage_stack, table_logical_id):
    # A reference, not a literal: consumers then depend on the table in Terraform's graph.
    assert storage_stack.outputs()["consumer_table_name"]["value"] == f"${{aws_dynamodb_table.{table_logical_id}.name}}"


def test_published_table_arn_is_what_a_consumer_is_granted_on(storage_stack, table_logical_id):
    statements = {s["Sid"]: s for s in storage_stack.iam_statements("writer")}
    assert statements["WriteTransactions"]["Resource"] == f"${{aws_dynamodb_table.{table_logical_id}.arn}}"


def test_table_is_registered_for_monitoring_by_its_name(storage_stack):
    tables = storage_stack.built.build.monitoring.tables.all()
    registered = [(t.key, t.table_name, t.plugin) for t in tables]
    assert registered == [("transactions", "payment-transactions-test", "storage")]


def test_unknown_setting_is_a_config_error_naming_plugin_and_setting():
    with pytest.raises(ConfigError, match=r"plugin 'storage', setting 'point_in_time_recover'"):
        synth(["storage"], settings={"storage": {"point_in_time_recover": False}}, cache=False)


def test_ttl_on_a_key_attribute_is_a_config_error():
    with pytest.raises(ConfigError, match=r"plugin 'storage', setting 'ttl_attribute'.*key attribute 'timestamp'"):
        synth(["storage"], settings={"storage": {"ttl_attribute": "timestamp"}}, cache=False)


def test_disabling_point_in_time_recovery_in_prod_is_refused():
    settings = {"storage": {"point_in_time_recovery": False}}
    env = make_environment(["storage"], name="prod", suffix="prod", settings=settings)
    refused = r"environment 'prod', plugin 'storage': point_in_time_recovery cannot be disabled"
    with pytest.raises(ConfigError, match=refused):
        synth(["storage"], environment=env, cache=False)
