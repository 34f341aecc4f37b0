"""Least-privilege grants on published tables, queues and topics, whoever provides them.

Like AWS CDK's ``table.grant_read_data(fn)``: a consumer asks the published value
(``ctx[keys.TRANSACTIONS_TABLE].grant_read(ctx.roles, role, sid=...)``), and the rules live here,
in the core, so a third-party plugin providing the same key gets the same grants as ours.
Every grant pairs the resource statement ``sid`` with the key use it needs, ``{sid}Kms``, on
the key the published value says encrypts it, confined by ``kms:ViaService`` to calls the
owning service makes on the role's behalf — never direct KMS use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from payments_platform.core.errors import RegistrationError
from payments_platform.core.roles import Statement, grant_key_via_service

if TYPE_CHECKING:
    from payments_platform.core.keys import Queue, Table, Topic


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

QUEUE_SEND_ACTIONS = ("sqs:SendMessage",)
QUEUE_CONSUME_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
TOPIC_PUBLISH_ACTIONS = ("sns:Publish",)
# SQS and SNS server-side encryption: the service generates a data key under the CMK for the
# messages it stores (GenerateDataKey) and decrypts cached data keys (Decrypt) -- both with
# the sender's credentials. Nothing here lets a sender read messages back.
_SEND_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
# A consumer only decrypts the data keys of the messages it receives.
_CONSUME_KEY_ACTIONS = ("kms:Decrypt",)


def grant_table(roles: Grantor, role: Any, table: Table, *, actions: Sequence[str], sid: str) -> None:
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
    roles.grant(role, sid=sid, actions=list(actions), resources=[table.arn])
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


def grant_queue_send(roles: Grantor, role: Any, queue: Queue, *, sid: str) -> None:
    """``sqs:SendMessage`` on ``queue`` (statement ``sid``) and its key use (``{sid}Kms``)."""
    _grant_queue(roles, role, queue, actions=QUEUE_SEND_ACTIONS, key_actions=_SEND_KEY_ACTIONS, sid=sid)


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
