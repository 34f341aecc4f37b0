"""What each function's role may do: exactly the AWS calls its handler makes.

Transaction processor (runtime/transactions.py and what it calls):

* DynamoDB ``TransactWriteItems`` with two conditional ``Put`` -- authorised as
  ``dynamodb:PutItem`` per item -- and, after a key rotation, a ``ConditionCheck``
  (``dynamodb:ConditionCheckItem``); ``GetItem`` (idempotency record), ``UpdateItem``
  (dispatch state), ``Query`` (the transaction behind a replayed key);
* SQS ``SendMessage`` (audit queue), SNS ``Publish`` (notifications topic);
* Secrets Manager ``GetSecretValue`` on the card-fingerprint key (cold start).

Status checker (runtime/status.py): DynamoDB ``Query`` only.

Transaction reconciler (runtime/reconciler.py): ``Query`` on the table (the transaction) and on
the dispatch-pending index only (never ``Scan``), ``UpdateItem`` (claim, completion, quarantine) on
idempotency records only (partition key ``idem_*``);
SQS ``SendMessage`` and SNS ``Publish``. No secret: it never fingerprints anything.

Each function's basics (its own log group, X-Ray, VPC network interfaces) come with the function
(core/builders.py). Granted in ``wiring``, when every other plugin's resources exist.
"""

from __future__ import annotations

from collections.abc import Mapping

from payments_platform.core import PluginContext, keys

from .definition import STATUS_CHECKER, TRANSACTION_PROCESSOR, TRANSACTION_RECONCILER
from .functions import dispatch_index

# ConditionCheckItem: once the fingerprint key has been rotated, the TransactWriteItems checks that
# the key has no record under the other key version (runtime/fingerprint_keyring.py).
TRANSACTION_PROCESSOR_TABLE_ACTIONS = (
    "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
STATUS_CHECKER_TABLE_ACTIONS = ("dynamodb:Query",)
# The reconciler reads a transaction by Query, and updates idempotency records only: their
# partition key is runtime/idempotency.py's RECORD_ID_PREFIX + an HMAC (tests pin the two equal).
TRANSACTION_RECONCILER_READ_ACTIONS = ("dynamodb:Query",)
TRANSACTION_RECONCILER_UPDATE_ACTIONS = ("dynamodb:UpdateItem",)
IDEMPOTENCY_RECORD_KEY_PATTERN = "idem_*"


def grant_function_access(ctx: PluginContext, functions: Mapping[str, keys.Function], secret_arn: str) -> None:
    kms = ctx[keys.KMS_KEY]
    table = ctx[keys.TRANSACTIONS_TABLE]
    queue = ctx[keys.AUDIT_QUEUE]
    topic = ctx[keys.NOTIFICATIONS_TOPIC]

    processor = functions[TRANSACTION_PROCESSOR]
    table.grant(ctx.roles, processor, actions=TRANSACTION_PROCESSOR_TABLE_ACTIONS, sid="TransactionsTableWrite")
    queue.grant_send(ctx.roles, processor, sid="AuditQueueSend")
    topic.grant_publish(ctx.roles, processor, sid="NotificationsPublish")
    ctx.roles.grant(
        processor, sid="CardFingerprintKeyRead", actions=["secretsmanager:GetSecretValue"], resources=[secret_arn]
    )
    # The secret is this plugin's own, encrypted under the platform CMK.
    kms.grant_use(
        ctx.roles, processor, sid="CardFingerprintKeyDecrypt", actions=["kms:Decrypt"], service="secretsmanager"
    )

    table.grant(ctx.roles, functions[STATUS_CHECKER], actions=STATUS_CHECKER_TABLE_ACTIONS, sid="TransactionsTableRead")

    reconciler = functions[TRANSACTION_RECONCILER]
    table.grant(
        ctx.roles, reconciler, actions=TRANSACTION_RECONCILER_READ_ACTIONS, sid="TransactionsTableReconcileRead"
    )
    table.grant(
        ctx.roles,
        reconciler,
        actions=TRANSACTION_RECONCILER_UPDATE_ACTIONS,
        sid="TransactionsTableReconcile",
        partition_key_patterns=[IDEMPOTENCY_RECORD_KEY_PATTERN],
    )
    table.grant_index_query(ctx.roles, reconciler, dispatch_index(table), sid="DispatchPendingIndexQuery")
    queue.grant_send(ctx.roles, reconciler, sid="AuditQueueSend")
    topic.grant_publish(ctx.roles, reconciler, sid="NotificationsPublish")
