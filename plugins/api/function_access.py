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
the dispatch-pending index only (never ``Scan``), ``UpdateItem`` (claim, completion, quarantine);
SQS ``SendMessage`` and SNS ``Publish``. No secret: it never fingerprints anything.

Both: CloudWatch Logs on their own log group, X-Ray segments, VPC network interfaces.
Granted in ``wiring``, when every other plugin's resources exist.
"""

from __future__ import annotations

from typing import Mapping

from payments_platform.core import keys
from payments_platform.core.context import PluginContext
from payments_platform.core.roles import grant_function_basics, grant_key_via_service
from payments_platform.plugins.messaging.grants import grant_queue_send, grant_topic_publish
from payments_platform.plugins.storage.grants import grant_table

from .definition import STATUS_CHECKER, TRANSACTION_PROCESSOR, TRANSACTION_RECONCILER
from .functions import BuiltFunction, dispatch_index

# ConditionCheckItem: once the fingerprint key has been rotated, the TransactWriteItems checks that
# the key has no record under the other key version (runtime/fingerprint_keyring.py).
TRANSACTION_PROCESSOR_TABLE_ACTIONS = (
    "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
)
STATUS_CHECKER_TABLE_ACTIONS = ("dynamodb:Query",)
TRANSACTION_RECONCILER_TABLE_ACTIONS = ("dynamodb:Query", "dynamodb:UpdateItem")

def grant_function_access(ctx: PluginContext, functions: Mapping[str, BuiltFunction], secret_arn: str) -> None:
    region = ctx.aws.region
    kms = ctx[keys.KMS_KEY]
    table = ctx[keys.TRANSACTIONS_TABLE]

    processor = functions[TRANSACTION_PROCESSOR].role
    grant_table(
        ctx.roles, processor, table, kms,
        actions=TRANSACTION_PROCESSOR_TABLE_ACTIONS, sid="TransactionsTableWrite", region=region,
    )
    grant_queue_send(ctx.roles, processor, ctx[keys.AUDIT_QUEUE], kms, sid="AuditQueueSend", region=region)
    grant_topic_publish(ctx.roles, processor, ctx[keys.NOTIFICATIONS_TOPIC], kms, sid="NotificationsPublish", region=region)
    ctx.roles.grant(
        processor, sid="CardFingerprintKeyRead", actions=["secretsmanager:GetSecretValue"], resources=[secret_arn]
    )
    grant_key_via_service(
        ctx.roles, processor, kms.arn,
        sid="CardFingerprintKeyDecrypt", actions=["kms:Decrypt"], service="secretsmanager", region=region,
    )

    grant_table(
        ctx.roles, functions[STATUS_CHECKER].role, table, kms,
        actions=STATUS_CHECKER_TABLE_ACTIONS, sid="TransactionsTableRead", region=region,
    )

    reconciler = functions[TRANSACTION_RECONCILER].role
    grant_table(
        ctx.roles, reconciler, table, kms,
        actions=TRANSACTION_RECONCILER_TABLE_ACTIONS, sid="TransactionsTableReconcile", region=region,
    )
    ctx.roles.grant(
        reconciler, sid="DispatchPendingIndexQuery", actions=["dynamodb:Query"],
        resources=[table.index_arn(dispatch_index(table))],
    )
    grant_queue_send(ctx.roles, reconciler, ctx[keys.AUDIT_QUEUE], kms, sid="AuditQueueSend", region=region)
    grant_topic_publish(ctx.roles, reconciler, ctx[keys.NOTIFICATIONS_TOPIC], kms, sid="NotificationsPublish", region=region)

    for function in functions.values():
        grant_function_basics(ctx.roles, function.role, function.log_group.arn)
