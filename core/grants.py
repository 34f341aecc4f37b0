"""Least-privilege grants on published tables, queues and topics, whoever provides them.

Like AWS CDK's ``table.grant_read_data(fn)``: a consumer asks the published value
(``ctx[keys.TRANSACTIONS_TABLE].grant_read(ctx.roles, role, sid=...)``), and the rules live here,
in the core, so a third-party plugin providing the same key gets the same grants as ours.
Every grant pairs the resource statement ``sid`` with the key use it needs, ``{sid}Kms``, on
the key the published value says encrypts it, confined by ``kms:ViaService`` to calls the
owning service makes on the role's behalf — never direct KMS use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from payments_platform.core.errors import RegistrationError
from payments_platform.core.roles import Statement, grant_key_via_service, value_grant

if TYPE_CHECKING:
    from payments_platform.core.keys import Function, Queue, Table, TableIndex, Topic


class Grantor(Protocol):
    """What grants are recorded in: ``ctx.roles`` (stamps each statement with the granting plugin)."""

    def grant(
        self,
        role: Any,
        *,
        sid: str,
        actions: Sequence[str],
        resources: Sequence[str],
        conditions: Mapping[str, Any] | None = None,
        any_resource_reason: str | None = None,
    ) -> Statement: ...


F = TypeVar("F", bound=Callable[..., None])


def _through_value(grant: F) -> F:
    """Record ``grant``'s statements as made through a published value (core/roles.py rule 3)."""

    @functools.wraps(grant)
    def recorded(*args: Any, **kwargs: Any) -> None:
        with value_grant():
            grant(*args, **kwargs)

    return recorded  # type: ignore[return-value]


TABLE_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
# The full set a writer may hold. TransactWriteItems is authorised per item (PutItem here),
# and there is deliberately no DeleteItem/BatchWriteItem: PCI DSS 10.5 -- transaction records
# are never removed by the application (only TTL expires the runtime's idempotency records).
TABLE_WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query")
# Only item-level actions: no grant lets a function scan, drop or reconfigure a table.
ITEM_LEVEL_ACTIONS = frozenset(
    {
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    }
)
_TABLE_WRITE_ACTIONS = frozenset({"dynamodb:PutItem", "dynamodb:UpdateItem"})

# What AWS Backup's managed policy (AWSBackupServiceRolePolicyForBackup) lets its service role do to
# a DynamoDB table, confined here to one table and its backups: no item read, no restore.
TABLE_BACKUP_ACTIONS = (
    "dynamodb:CreateBackup",
    "dynamodb:DescribeTable",
    "dynamodb:ListTagsOfResource",
    "dynamodb:StartAwsBackupJob",
)
TABLE_BACKUP_RESOURCE_ACTIONS = ("dynamodb:DeleteBackup", "dynamodb:DescribeBackup")
# Backups stay under the table's key: the service reads the key's metadata and lets DynamoDB hold a
# grant on it for the backup's lifetime (CreateGrant only for an AWS resource, see below).
_BACKUP_KEY_ACTIONS = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey")
TABLE_EXPORT_ACTIONS = ("dynamodb:ExportTableToPointInTime",)
TABLE_EXPORT_RESOURCE_ACTIONS = ("dynamodb:DescribeExport",)
# What a Lambda event source mapping given the stream's ARN calls on it (ListStreams is only needed
# to discover a stream, and takes no resource-level permission: not granted).
TABLE_STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")

QUEUE_SEND_ACTIONS = ("sqs:SendMessage",)
QUEUE_CONSUME_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
TOPIC_PUBLISH_ACTIONS = ("sns:Publish",)
# SQS and SNS server-side encryption: the service generates a data key under the CMK for the
# messages it stores (GenerateDataKey) and decrypts cached data keys (Decrypt) -- both with
# the sender's credentials. Nothing here lets a sender read messages back.
_SEND_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
# A consumer only decrypts the data keys of the messages it receives.
_CONSUME_KEY_ACTIONS = ("kms:Decrypt",)


@_through_value
def grant_table(
    roles: Grantor,
    role: Any,
    table: Table,
    *,
    actions: Sequence[str],
    sid: str,
    partition_key_patterns: Sequence[str] | None = None,
) -> None:
    """Exactly ``actions`` on ``table`` (statement ``sid``) and the key use they need
    (``{sid}Kms``), only through DynamoDB in the table's region. Raises
    :class:`RegistrationError` for anything but an item-level action (``Scan``,
    ``DeleteTable``, wildcards, ...)."""
    if isinstance(actions, str):
        raise RegistrationError(
            f"table grant '{sid}': actions must be a sequence of actions, not the string {actions!r}"
        )
    refused = sorted(set(actions) - ITEM_LEVEL_ACTIONS)
    if refused:
        raise RegistrationError(
            f"table grant '{sid}': {', '.join(repr(a) for a in refused)} is not an item-level action allowed on "
            f"table grants (allowed: {', '.join(sorted(ITEM_LEVEL_ACTIONS))})"
        )
    conditions = None
    if partition_key_patterns is not None:
        if isinstance(partition_key_patterns, str) or not partition_key_patterns:
            raise RegistrationError(f"table grant '{sid}': partition_key_patterns must be a non-empty sequence")
        # Every key the request touches must match (an item-level request always names its key).
        conditions = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(partition_key_patterns)}}
    roles.grant(role, sid=sid, actions=list(actions), resources=[table.arn], conditions=conditions)
    # DynamoDB decrypts the table key with the caller's credentials (cached per principal for a
    # few minutes): every reader and writer needs kms:Decrypt. Items are encrypted under that
    # table key, not under per-item KMS data keys, so AWS documents no GenerateDataKey call
    # made for an item writer; writers get it anyway, as the AWS CDK's grantWriteData does, as a
    # margin should DynamoDB ever need fresh key material while serving a write. Readers never
    # get it.
    kms_actions = ["kms:Decrypt"]
    if _TABLE_WRITE_ACTIONS & set(actions):
        kms_actions.append("kms:GenerateDataKey")
    grant_key_via_service(
        roles, role, table.kms_key_arn, sid=f"{sid}Kms", actions=kms_actions, service="dynamodb", region=table.region
    )


@_through_value
def grant_table_index_query(roles: Grantor, role: Any, table: Table, index: TableIndex, *, sid: str) -> None:
    """``dynamodb:Query`` on one index of ``table`` (statement ``sid``). The key use comes with a
    grant on the table itself, which the role must already hold."""
    if index not in table.indexes:
        known = ", ".join(i.name for i in table.indexes) or "none"
        raise RegistrationError(f"table grant '{sid}': index {index.name!r} is not one of the table's (known: {known})")
    holds_table_grant = getattr(roles, "holds_grant_on", None)
    if holds_table_grant is not None and not holds_table_grant(role, table.arn):
        raise RegistrationError(
            f"table grant '{sid}': the role holds no grant on the table itself, whose key encrypts the index: "
            "grant it Query on the table first (table.grant / grant_read / grant_write)"
        )
    roles.grant(role, sid=sid, actions=["dynamodb:Query"], resources=[table.index_arn(index)])


@_through_value
def grant_table_backup(roles: Grantor, role: Any, table: Table, *, sid: str) -> None:
    """AWS Backup's access to ``table`` (``sid``), to its backups (``{sid}Backups``) and to its key
    through DynamoDB (``{sid}Kms``; ``CreateGrant`` only for an AWS resource)."""
    roles.grant(role, sid=sid, actions=list(TABLE_BACKUP_ACTIONS), resources=[table.arn])
    roles.grant(
        role, sid=f"{sid}Backups", actions=list(TABLE_BACKUP_RESOURCE_ACTIONS), resources=[f"{table.arn}/backup/*"]
    )
    roles.grant(
        role,
        sid=f"{sid}Kms",
        actions=list(_BACKUP_KEY_ACTIONS),
        resources=[table.kms_key_arn],
        conditions={
            "StringEquals": {"kms:ViaService": f"dynamodb.{table.region}.amazonaws.com"},
            "Bool": {"kms:GrantIsForAWSResource": "true"},
        },
    )


@_through_value
def grant_table_export(roles: Grantor, role: Any, table: Table, *, sid: str) -> None:
    """Export ``table`` from its point-in-time recovery data (``sid``), follow its exports
    (``{sid}Exports``) and decrypt it through DynamoDB (``{sid}Kms``)."""
    roles.grant(role, sid=sid, actions=list(TABLE_EXPORT_ACTIONS), resources=[table.arn])
    roles.grant(
        role, sid=f"{sid}Exports", actions=list(TABLE_EXPORT_RESOURCE_ACTIONS), resources=[f"{table.arn}/export/*"]
    )
    _decrypt_through_dynamodb(roles, role, table, sid=f"{sid}Kms")


@_through_value
def grant_table_stream_read(roles: Grantor, role: Any, table: Table, *, sid: str) -> None:
    """Read ``table``'s stream (``sid``) and decrypt its records through DynamoDB (``{sid}Kms``)."""
    if not table.stream_arn:
        raise RegistrationError(
            f"table grant '{sid}': table {table.name!r} publishes no stream_arn (its provider enables no stream)"
        )
    roles.grant(role, sid=sid, actions=list(TABLE_STREAM_ACTIONS), resources=[table.stream_arn])
    _decrypt_through_dynamodb(roles, role, table, sid=f"{sid}Kms")


def _decrypt_through_dynamodb(roles: Grantor, role: Any, table: Table, *, sid: str) -> None:
    """Decrypt with the table's key, only through DynamoDB in the table's region (exports, streams)."""
    grant_key_via_service(
        roles, role, table.kms_key_arn, sid=sid, actions=["kms:Decrypt"], service="dynamodb", region=table.region
    )


@_through_value
def grant_queue_send(roles: Grantor, role: Any, queue: Queue, *, sid: str) -> None:
    """``sqs:SendMessage`` on ``queue`` (statement ``sid``) and its key use (``{sid}Kms``)."""
    _grant_queue(roles, role, queue, actions=QUEUE_SEND_ACTIONS, key_actions=_SEND_KEY_ACTIONS, sid=sid)


@_through_value
def grant_queue_consume(roles: Grantor, role: Any, queue: Queue, *, sid: str) -> None:
    """Receive, delete and read the attributes of ``queue``'s messages (statement ``sid``: what
    a Lambda event source mapping calls) and decrypt them (``{sid}Kms``)."""
    _grant_queue(roles, role, queue, actions=QUEUE_CONSUME_ACTIONS, key_actions=_CONSUME_KEY_ACTIONS, sid=sid)


def _grant_queue(
    roles: Grantor, role: Any, queue: Queue, *, actions: Sequence[str], key_actions: Sequence[str], sid: str
) -> None:
    roles.grant(role, sid=sid, actions=list(actions), resources=[queue.arn])
    grant_key_via_service(
        roles, role, queue.kms_key_arn, sid=f"{sid}Kms", actions=list(key_actions), service="sqs", region=queue.region
    )


@_through_value
def grant_topic_publish(roles: Grantor, role: Any, topic: Topic, *, sid: str) -> None:
    """``sns:Publish`` on ``topic`` (statement ``sid``) and its key use (``{sid}Kms``)."""
    roles.grant(role, sid=sid, actions=list(TOPIC_PUBLISH_ACTIONS), resources=[topic.arn])
    grant_key_via_service(
        roles,
        role,
        topic.kms_key_arn,
        sid=f"{sid}Kms",
        actions=list(_SEND_KEY_ACTIONS),
        service="sns",
        region=topic.region,
    )


@_through_value
def grant_function_invoke(roles: Grantor, role: Any, function: Function, *, sid: str) -> None:
    """``lambda:InvokeFunction`` on ``function`` and its qualified ARNs (``:alias``/``:version``)."""
    roles.grant(role, sid=sid, actions=["lambda:InvokeFunction"], resources=[function.arn, f"{function.arn}:*"])
