"""Grants travel with the published value: a table, queue or topic grants a role exactly what
it asks for, with key use on the key that value says encrypts it, through its service only."""

from __future__ import annotations

import dataclasses
import re

import pytest

from payments_platform.core import RegistrationError, keys
from payments_platform.core.grants import TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS
from payments_platform.core.testing import RecordingRoles, stub_values

STUBS = stub_values(region="eu-west-1")
TABLE = STUBS[keys.TRANSACTIONS_TABLE]
QUEUE = STUBS[keys.AUDIT_QUEUE]
TOPIC = STUBS[keys.NOTIFICATIONS_TOPIC]


@pytest.fixture
def roles() -> RecordingRoles:
    return RecordingRoles()


def key_use(sid: str, actions: list[str], key_arn: str, service: str) -> dict:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": f"{service}.eu-west-1.amazonaws.com"}},
    }


# -- tables ----------------------------------------------------------------------------------


def test_table_read_grants_get_and_query_on_the_table_arn(roles):
    TABLE.grant_read(roles, "fn", sid="Transactions")
    statement = roles.statements()["Transactions"]
    assert (statement["Action"], statement["Resource"]) == (sorted(TABLE_READ_ACTIONS), TABLE.arn)


def test_table_read_key_use_is_decrypt_only_through_dynamodb(roles):
    TABLE.grant_read(roles, "fn", sid="Transactions")
    assert roles.statements()["TransactionsKms"] == key_use(
        "TransactionsKms", ["kms:Decrypt"], TABLE.kms_key_arn, "dynamodb"
    )


def test_table_write_grants_no_delete_and_adds_generate_data_key(roles):
    TABLE.grant_write(roles, "fn", sid="Transactions")
    statements = roles.statements()
    assert statements["Transactions"]["Action"] == sorted(TABLE_WRITE_ACTIONS)
    assert "dynamodb:DeleteItem" not in statements["Transactions"]["Action"]
    assert statements["TransactionsKms"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_table_grant_confined_to_partition_keys_carries_a_leading_keys_condition(roles):
    TABLE.grant(roles, "fn", actions=["dynamodb:UpdateItem"], sid="Records", partition_key_patterns=["idem_*"])
    assert roles.statements()["Records"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["idem_*"]}
    }


@pytest.mark.parametrize("patterns", [[], "idem_*"])
def test_table_grant_with_no_partition_key_pattern_is_refused(roles, patterns):
    with pytest.raises(RegistrationError, match="partition_key_patterns"):
        TABLE.grant(roles, "fn", actions=["dynamodb:UpdateItem"], sid="Records", partition_key_patterns=patterns)


def test_table_key_use_follows_the_key_the_table_is_published_with(roles):
    other_key = "arn:aws:kms:eu-west-1:210987654321:key/third-party"
    dataclasses.replace(TABLE, kms_key_arn=other_key).grant_read(roles, "fn", sid="Transactions")
    assert roles.statements()["TransactionsKms"]["Resource"] == other_key


@pytest.mark.parametrize("action", ["dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:DeleteItem", "dynamodb:*", "*"])
def test_table_grant_of_a_non_item_level_action_is_refused_by_name(roles, action):
    with pytest.raises(RegistrationError, match=re.escape(f"'{action}' is not an item-level action")):
        TABLE.grant(roles, "fn", actions=["dynamodb:GetItem", action], sid="Transactions")


def test_refused_table_grant_leaves_the_role_untouched(roles):
    with pytest.raises(RegistrationError):
        TABLE.grant(roles, "fn", actions=["dynamodb:Scan"], sid="Transactions")
    assert roles.statements() == {}


def test_table_grant_actions_given_as_one_string_are_refused(roles):
    with pytest.raises(RegistrationError, match="not the string"):
        TABLE.grant(roles, "fn", actions="dynamodb:GetItem", sid="Transactions")


def test_table_grant_is_recorded_as_granted_by_the_consumer():
    roles = RecordingRoles(plugin="fraud")
    TABLE.grant_read(roles, "fn", sid="Transactions")
    assert {s.granted_by for s in roles.registry.get("fn").statements} == {"fraud"}


# -- queues and topics -------------------------------------------------------------------------


def test_queue_send_grants_send_message_on_the_queue_only(roles):
    QUEUE.grant_send(roles, "fn", sid="SendAudit")
    statement = roles.statements()["SendAudit"]
    assert (statement["Action"], statement["Resource"]) == (["sqs:SendMessage"], QUEUE.arn)


def test_queue_send_key_use_is_through_sqs_in_the_queues_region(roles):
    QUEUE.grant_send(roles, "fn", sid="SendAudit")
    assert roles.statements()["SendAuditKms"] == key_use(
        "SendAuditKms", ["kms:Decrypt", "kms:GenerateDataKey"], QUEUE.kms_key_arn, "sqs"
    )


def test_queue_consume_grants_receive_delete_and_attributes_and_decrypt_only(roles):
    QUEUE.grant_consume(roles, "fn", sid="Consume")
    statements = roles.statements()
    assert statements["Consume"]["Action"] == ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
    assert statements["ConsumeKms"] == key_use("ConsumeKms", ["kms:Decrypt"], QUEUE.kms_key_arn, "sqs")


def test_topic_publish_grants_publish_on_the_topic_only(roles):
    TOPIC.grant_publish(roles, "fn", sid="PublishEvents")
    statement = roles.statements()["PublishEvents"]
    assert (statement["Action"], statement["Resource"]) == (["sns:Publish"], TOPIC.arn)


def test_topic_publish_key_use_is_through_sns_in_the_topics_region(roles):
    TOPIC.grant_publish(roles, "fn", sid="PublishEvents")
    assert roles.statements()["PublishEventsKms"] == key_use(
        "PublishEventsKms", ["kms:Decrypt", "kms:GenerateDataKey"], TOPIC.kms_key_arn, "sns"
    )


@pytest.mark.parametrize(
    ("key_type", "fields"),
    [
        (keys.Table, {"name": "t", "arn": TABLE.arn, "hash_key": "id"}),
        (keys.Queue, {"name": "q", "arn": QUEUE.arn, "url": QUEUE.url}),
        (keys.Topic, {"name": "t", "arn": TOPIC.arn}),
    ],
)
def test_a_provider_must_publish_the_encryption_key_and_region(key_type, fields):
    with pytest.raises(TypeError, match="kms_key_arn.*region"):
        key_type(**fields)


# -- the platform key ----------------------------------------------------------------------------


def test_key_use_is_granted_only_through_the_named_service_in_the_keys_region(roles):
    key = keys.KmsKey(
        arn="arn:aws:kms:eu-west-1:123456789012:key/k", key_id="k", alias_name="alias/k", region="eu-west-1"
    )
    key.grant_use(roles, "fn", sid="SecretDecrypt", actions=["kms:Decrypt"], service="secretsmanager")
    assert roles.statements()["SecretDecrypt"] == key_use("SecretDecrypt", ["kms:Decrypt"], key.arn, "secretsmanager")


# -- tables: index, backup, export, stream (plugin API 1.1) -------------------------------------


def test_index_query_is_query_on_the_index_arn_only(roles):
    TABLE.grant(roles, "fn", actions=["dynamodb:Query"], sid="Transactions")
    TABLE.grant_index_query(roles, "fn", TABLE.indexes[0], sid="PendingIndex")
    assert roles.statements()["PendingIndex"] == {
        "Sid": "PendingIndex",
        "Effect": "Allow",
        "Action": ["dynamodb:Query"],
        "Resource": f"{TABLE.arn}/index/dispatch-pending",
    }


def test_index_query_without_a_grant_on_the_table_is_refused(roles):
    with pytest.raises(RegistrationError, match="holds no grant on the table itself, whose key encrypts the index"):
        TABLE.grant_index_query(roles, "fn", TABLE.indexes[0], sid="PendingIndex")


def test_index_query_on_an_index_the_table_lacks_is_refused(roles):
    TABLE.grant_read(roles, "fn", sid="Transactions")
    with pytest.raises(RegistrationError, match="index 'by-merchant' is not one of the table's"):
        TABLE.grant_index_query(roles, "fn", keys.TableIndex("by-merchant", "merchant_id"), sid="Merchant")


def test_backup_grants_backup_actions_on_this_table_and_its_backups_only(roles):
    TABLE.grant_backup(roles, "fn", sid="Backup")
    statements = roles.statements()
    assert (statements["Backup"]["Action"], statements["Backup"]["Resource"]) == (
        [
            "dynamodb:CreateBackup",
            "dynamodb:DescribeTable",
            "dynamodb:ListTagsOfResource",
            "dynamodb:StartAwsBackupJob",
        ],
        TABLE.arn,
    )
    assert (statements["BackupBackups"]["Action"], statements["BackupBackups"]["Resource"]) == (
        ["dynamodb:DeleteBackup", "dynamodb:DescribeBackup"],
        f"{TABLE.arn}/backup/*",
    )


def test_backup_key_use_is_through_dynamodb_and_grants_only_for_aws_resources(roles):
    TABLE.grant_backup(roles, "fn", sid="Backup")
    assert roles.statements()["BackupKms"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"},
        "Bool": {"kms:GrantIsForAWSResource": "true"},
    }


def test_backup_grants_no_item_read_or_restore(roles):
    TABLE.grant_backup(roles, "fn", sid="Backup")
    actions = {a for s in roles.statements().values() for a in s["Action"]}
    assert not actions & {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:RestoreTableFromBackup"}


def test_export_grants_point_in_time_export_and_decrypt_through_dynamodb(roles):
    TABLE.grant_export(roles, "fn", sid="Export")
    statements = roles.statements()
    assert statements["Export"]["Action"] == ["dynamodb:ExportTableToPointInTime"]
    assert statements["ExportExports"]["Resource"] == f"{TABLE.arn}/export/*"
    assert statements["ExportKms"] == key_use("ExportKms", ["kms:Decrypt"], TABLE.kms_key_arn, "dynamodb")


def test_stream_read_is_on_the_published_stream(roles):
    streamed = dataclasses.replace(TABLE, stream_arn=f"{TABLE.arn}/stream/2026-01-01T00:00:00.000")
    streamed.grant_stream_read(roles, "fn", sid="Stream")
    statement = roles.statements()["Stream"]
    assert (statement["Action"], statement["Resource"]) == (
        ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
        streamed.stream_arn,
    )


def test_stream_read_on_a_table_without_a_stream_is_refused(roles):
    with pytest.raises(RegistrationError, match="publishes no stream_arn"):
        TABLE.grant_stream_read(roles, "fn", sid="Stream")


# -- functions (plugin API 1.1) ------------------------------------------------------------------


def test_function_invoke_is_on_the_function_and_its_qualified_arns(roles):
    function = keys.Function(
        name="f",
        arn="arn:aws:lambda:eu-west-1:123456789012:function:f",
        role=roles.registry.get("fn"),
        log_group_name="/aws/lambda/f",
        log_group_arn="arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f",
    )
    function.grant_invoke(roles, "fn", sid="Invoke")
    assert roles.statements()["Invoke"] == {
        "Sid": "Invoke",
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        "Resource": [function.arn, f"{function.arn}:*"],
    }
