"""DynamoDB access for transactions and their idempotency records (one table; the reconciler
reads the sparse dispatch-pending index)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from .aws_clients import error_code
from .idempotency import DISPATCH_PENDING_ATTRIBUTE, RECORD_SORT_KEY, DispatchState, IdempotencyRecord
from .record_codec import epoch_ms_value, json_text_value, text_value
from .transaction_records import (
    RECORD_TYPE_TRANSACTION,
    TRANSITIONS,
    Transaction,
    idempotency_item,
    idempotency_record_from_item,
)


class IdempotencyKeyTaken(Exception):
    """The key already has a record (or a concurrent request is writing one right now)."""

    def __init__(self, existing: IdempotencyRecord | None):
        super().__init__("idempotency key taken")
        self.existing = existing


class TransactionStore:
    def __init__(self, dynamodb: Any, table_name: str):
        self._dynamodb = dynamodb
        self._table = table_name

    def create(
        self,
        transaction: Transaction,
        record: IdempotencyRecord,
        request_id: str,
        absent_record_ids: Sequence[str] = (),
    ) -> None:
        """One TransactWriteItems: the idempotency record (only if absent), the transaction, and a
        check that the key has no record under another key version (``absent_record_ids``)."""
        checks = [
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": self._key(other),
                    "ConditionExpression": "attribute_not_exists(transaction_id)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for other in absent_record_ids
        ]
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": idempotency_item(record, transaction.created_at_ms),
                            "ConditionExpression": "attribute_not_exists(transaction_id)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": transaction.to_item(),
                            "ConditionExpression": "attribute_not_exists(transaction_id)",
                        }
                    },
                    *checks,
                ],
                # Makes botocore's own retry of this call idempotent; unique per client request.
                ClientRequestToken=hashlib.sha256(request_id.encode()).hexdigest()[:36],
            )
        except ClientError as error:
            code = error_code(error)
            if code == "TransactionCanceledException":
                reasons = error.response.get("CancellationReasons") or []
                # The record's Put (first) or a check under another key version (third on).
                for reason in [reasons[0], *reasons[2:]] if reasons else []:
                    if reason.get("Code") == "ConditionalCheckFailed":
                        item = reason.get("Item")
                        raise IdempotencyKeyTaken(idempotency_record_from_item(item) if item else None) from None
                if any(reason.get("Code") == "TransactionConflict" for reason in reasons):
                    raise IdempotencyKeyTaken(None) from None
            if code == "IdempotentParameterMismatchException":
                raise IdempotencyKeyTaken(None) from None
            raise

    def idempotency_record(self, record_id: str) -> IdempotencyRecord | None:
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key={"transaction_id": {"S": record_id}, "timestamp": {"N": str(RECORD_SORT_KEY)}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return idempotency_record_from_item(item) if item else None

    def _key(self, record_id: str) -> dict[str, Any]:
        return {"transaction_id": {"S": record_id}, "timestamp": {"N": str(RECORD_SORT_KEY)}}

    def mark_dispatch_incomplete(self, record_id: str, *, audit_sent: bool, event_published: bool) -> None:
        self._dynamodb.update_item(
            TableName=self._table,
            Key=self._key(record_id),
            UpdateExpression="SET dispatch_state = :s, audit_sent = :a, event_published = :e, lease_expires_at = :z",
            ConditionExpression="attribute_exists(transaction_id)",
            ExpressionAttributeValues={
                ":s": {"S": DispatchState.INCOMPLETE.value},
                ":a": {"BOOL": audit_sent},
                ":e": {"BOOL": event_published},
                ":z": {"N": "0"},
            },
        )

    def claim_dispatch_resume(self, record_id: str, now_ms: int, lease_ms: int) -> IdempotencyRecord | None:
        """Take the lease on an incomplete dispatch; None when another request took it first."""
        return self._claim(record_id, "dispatch_state = :incomplete", now_ms, lease_ms)

    def claim_stale_dispatch(self, record_id: str, now_ms: int, lease_ms: int) -> IdempotencyRecord | None:
        """Take the lease on a dispatch still ``dispatching`` after its lease ran out (its request was
        cut short); None when someone else took or finished it first."""
        return self._claim(record_id, "dispatch_state = :dispatching AND lease_expires_at < :now", now_ms, lease_ms)

    def _claim(self, record_id: str, condition: str, now_ms: int, lease_ms: int) -> IdempotencyRecord | None:
        values = {
            ":dispatching": {"S": DispatchState.DISPATCHING.value},
            ":incomplete": {"S": DispatchState.INCOMPLETE.value},
            ":now": epoch_ms_value(now_ms),
            ":lease": epoch_ms_value(now_ms + lease_ms),
        }
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key=self._key(record_id),
                UpdateExpression="SET dispatch_state = :dispatching, lease_expires_at = :lease",
                ConditionExpression=condition,
                # DynamoDB refuses values the expressions do not use.
                ExpressionAttributeValues={
                    k: v for k, v in values.items() if k in condition or k in (":dispatching", ":lease")
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise
        return idempotency_record_from_item(response["Attributes"])

    def mark_dispatch_complete(self, record_id: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table,
            Key=self._key(record_id),
            UpdateExpression=(
                "SET dispatch_state = :s, audit_sent = :t, event_published = :t, lease_expires_at = :z "
                f"REMOVE {DISPATCH_PENDING_ATTRIBUTE}"
            ),
            # Never create a bare record (e.g. one TTL has already removed).
            ConditionExpression="attribute_exists(transaction_id)",
            ExpressionAttributeValues={
                ":s": {"S": DispatchState.COMPLETE.value},
                ":t": {"BOOL": True},
                ":z": {"N": "0"},
            },
        )

    def stranded(self, index_name: str, shard: str, now_ms: int, limit: int) -> list[dict[str, Any]]:
        """Index entries of ``shard`` whose lease ran out before ``now_ms`` (incomplete dispatches
        carry lease 0), oldest lease first: keys, lease and ``target_timestamp`` only."""
        response = self._dynamodb.query(
            TableName=self._table,
            IndexName=index_name,
            KeyConditionExpression="#pending = :shard AND lease_expires_at < :now",
            ExpressionAttributeNames={"#pending": DISPATCH_PENDING_ATTRIBUTE},
            ExpressionAttributeValues={":shard": {"S": shard}, ":now": epoch_ms_value(now_ms)},
            Limit=limit,
        )
        return response.get("Items") or []

    def claim_for_reconciliation(self, key: dict[str, Any], now_ms: int, lease_ms: int) -> dict[str, Any] | None:
        """Take the lease on a stranded record (the raw item, ALL_NEW); None when it is no longer
        stranded -- completed meanwhile, or claimed by a client retry or an overlapping run."""
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=(
                    "SET dispatch_state = :dispatching, lease_expires_at = :lease ADD reconcile_attempts :one"
                ),
                ConditionExpression="attribute_exists(#pending) AND lease_expires_at < :now",
                ExpressionAttributeNames={"#pending": DISPATCH_PENDING_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":dispatching": {"S": DispatchState.DISPATCHING.value},
                    ":lease": epoch_ms_value(now_ms + lease_ms),
                    ":now": epoch_ms_value(now_ms),
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise
        attributes: dict[str, Any] = response["Attributes"]
        return attributes

    def quarantine(self, key: dict[str, Any], reason: str, now_ms: int) -> None:
        """Take a record the reconciler cannot complete out of its index, with the reason, so it
        is never retried forever and never blocks the rest; an operator finds it by the reason."""
        self._dynamodb.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression=f"SET dispatch_quarantined = :reason, dispatch_quarantined_at = :now REMOVE {DISPATCH_PENDING_ATTRIBUTE}",
            ConditionExpression="attribute_exists(transaction_id)",
            ExpressionAttributeValues={":reason": {"S": reason}, ":now": epoch_ms_value(now_ms)},
        )

    def transition(self, transaction: Transaction, moved: Transaction, record_id: str, now_ms: int) -> bool:
        """Move ``transaction`` from its status to ``moved``'s in one conditional write (a status
        never moves backwards, never gets two outcomes), with its idempotency record: the reply a
        retry replays becomes ``moved``'s view, and the audit message and event sent so far are
        those of the new status (none yet). False when the transaction had already left its status;
        ValueError for a move the lifecycle does not make (backwards, or from an outcome)."""
        if (transaction.status, moved.status) not in TRANSITIONS:
            raise ValueError(f"no transition from {transaction.status!r} to {moved.status!r}")
        values: dict[str, Any] = {
            ":from": {"S": transaction.status},
            ":to": {"S": moved.status},
            ":now": epoch_ms_value(now_ms),
        }
        sets = ["#status = :to", "status_changed_at = :now"]
        for name in ("decline_code", "acquirer_reference"):
            value = getattr(moved, name)
            if value is not None:
                values[f":{name}"] = text_value(value, name)
                sets.append(f"{name} = :{name}")
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {
                                "transaction_id": {"S": transaction.transaction_id},
                                "timestamp": epoch_ms_value(transaction.created_at_ms),
                            },
                            "UpdateExpression": "SET " + ", ".join(sets),
                            "ConditionExpression": "#status = :from",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": self._key(record_id),
                            "UpdateExpression": "SET response_body = :body, audit_sent = :f, event_published = :f",
                            "ConditionExpression": "attribute_exists(transaction_id)",
                            "ExpressionAttributeValues": {
                                ":body": json_text_value(json.dumps(moved.public_view(), separators=(",", ":"))),
                                ":f": {"BOOL": False},
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            if (
                error_code(error) == "TransactionCanceledException"
                and reasons[:1]
                and (reasons[0].get("Code") == "ConditionalCheckFailed")
            ):
                # Our own write, committed while we saw an error (botocore's retry then finds it
                # done), reads back as exactly ``moved``: it is ours to dispatch. Anything else is
                # another writer's move.
                return self._reads_as(moved)
            raise
        return True

    def _reads_as(self, moved: Transaction) -> bool:
        current = self.find_transaction(moved.transaction_id)
        return current is not None and (current.status, current.decline_code, current.acquirer_reference) == (
            moved.status,
            moved.decline_code,
            moved.acquirer_reference,
        )

    def find_transaction(self, transaction_id: str) -> Transaction | None:
        response = self._dynamodb.query(
            TableName=self._table,
            KeyConditionExpression="transaction_id = :id",
            ExpressionAttributeValues={":id": {"S": transaction_id}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items") or []
        if not items or items[0].get("record_type", {}).get("S") != RECORD_TYPE_TRANSACTION:
            return None
        return Transaction.from_item(items[0])
