"""Least-privilege grants on the transactions table, for the plugins whose functions use it.

The api plugin calls :func:`grant_table` in its ``wiring`` phase; only item-level actions can
be granted, so no function can scan, drop or reconfigure the table.
"""

from __future__ import annotations

from typing import Any, Sequence

from payments_platform.core import RegistrationError, keys
from payments_platform.core.roles import grant_key_via_service

TABLE_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
# The full set a writer may hold. TransactWriteItems is authorised per item (PutItem here),
# and there is deliberately no DeleteItem/BatchWriteItem: PCI DSS 10.5 -- transaction records
# are never removed by the application (only TTL expires the runtime's idempotency records).
TABLE_WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query")

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
_WRITE_ACTIONS = frozenset({"dynamodb:PutItem", "dynamodb:UpdateItem"})


def grant_table(
    roles: Any,
    role: Any,
    table: keys.Table,
    kms_key: keys.KmsKey,
    *,
    actions: Sequence[str],
    sid: str,
    region: str,
) -> None:
    """Grant exactly ``actions`` on ``table`` (statement ``sid``) and the key use they need
    (statement ``{sid}Kms``), only through DynamoDB in ``region``.

    ``roles`` is ``ctx.roles``; ``role`` a role or role key. Raises :class:`RegistrationError`
    for anything but an item-level action (``Scan``, ``DeleteTable``, wildcards, ...).
    """
    if isinstance(actions, str):
        raise RegistrationError(
            f"grant_table '{sid}': actions must be a sequence of actions, not the string {actions!r}"
        )
    refused = sorted(set(actions) - ITEM_LEVEL_ACTIONS)
    if refused:
        raise RegistrationError(
            f"grant_table '{sid}': {', '.join(repr(a) for a in refused)} is not an item-level action allowed on "
            f"table grants (allowed: {', '.join(sorted(ITEM_LEVEL_ACTIONS))})"
        )
    roles.grant(role, sid=sid, actions=list(actions), resources=[table.arn])
    # DynamoDB decrypts the table key with the caller's credentials (cached per principal for a
    # few minutes): every reader and writer needs kms:Decrypt. Items are encrypted under that
    # table key, not under per-item KMS data keys, so AWS documents no GenerateDataKey call
    # made for an item writer; writers get it anyway, as the AWS CDK's grantWriteData does, as a
    # margin should DynamoDB ever need fresh key material while serving a write. Readers never
    # get it. kms:ViaService confines both to calls DynamoDB makes, never direct KMS use.
    kms_actions = ["kms:Decrypt"]
    if _WRITE_ACTIONS & set(actions):
        kms_actions.append("kms:GenerateDataKey")
    grant_key_via_service(
        roles, role, kms_key.arn, sid=f"{sid}Kms", actions=kms_actions, service="dynamodb", region=region
    )
