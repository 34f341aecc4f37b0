"""Performance patches for moto 5.2.5: calls the payment API makes on every request whose cost
grows with everything the emulator has stored. A developer session that posts a few hundred
payments would otherwise see a POST climb past 100 ms (benchmarks/emulator_bench.py, figures in
BENCHMARKS.md). Same results as moto's own code; each patch with its upstream note, applied through
core/local/emulator/patching.py.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from payments_platform.core.local.emulator.patching import Patches

PATCHES = Patches("performance")
_state = threading.local()


# --------------------------------------------------------------------------- DynamoDB transactions


class _TableCopySkippingDeepcopy:
    """Stands in for the ``copy`` module inside moto.dynamodb.models: while this thread runs a
    patched TransactWriteItems, a deep copy of a whole Table (moto's rollback snapshot) is skipped;
    every other use is the real ``copy``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_state, "per_item_rollback", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _item_key(table: Any, operation_type: str, operation: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    source = operation["Item"] if operation_type == "Put" else operation["Key"]
    hash_value = DynamoType(source[table.hash_key_attr])
    range_value = DynamoType(source[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash, range, a deep copy of the stored item or None) for every item the transaction
    names; KeyError/TypeError/StopIteration on a malformed request."""
    snapshot = []
    for entry in transact_items:
        operation_type, operation = next(iter(entry.items()))
        table = backend.tables.get(operation.get("TableName"))
        if table is None:
            continue
        hash_value, range_value = _item_key(table, operation_type, operation)
        stored = table.items.get(hash_value)
        if range_value is not None:
            stored = stored.get(range_value) if stored else None
        snapshot.append((table, hash_value, range_value, copy.deepcopy(stored)))
    return snapshot


def _restore(snapshot: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_value, range_value, stored in reversed(snapshot):
        if range_value is None:
            if stored is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = stored
            continue
        bucket = table.items.get(hash_value)
        if stored is not None:
            table.items[hash_value][range_value] = stored
        elif bucket is not None:
            bucket.pop(range_value, None)
            if not bucket:
                table.items.pop(hash_value, None)


@PATCHES.replaces("moto.dynamodb.models", "copy")
def dynamodb_rollback_copy(_copy_module: Any) -> Any:
    """Inside moto.dynamodb.models, ``copy`` skips the deep copy of a whole table while this thread
    runs a patched TransactWriteItems (see dynamodb_transaction_rollback).

    Upstream: as for dynamodb_transaction_rollback below."""
    return _TableCopySkippingDeepcopy()


@PATCHES.replaces("moto.dynamodb.models:DynamoDBBackend", "transact_write_items")
def dynamodb_transaction_rollback(original: Any) -> Any:
    """TransactWriteItems snapshots only the items it names for its rollback, not whole tables.

    Upstream: moto.dynamodb.models.DynamoDBBackend.transact_write_items deep-copies every table a
    transaction touches before it starts (O(items in the table) per call: ~120 ms at 2,000 items);
    it should keep a copy of just the items named in ``TransactItems`` and put those back on
    cancellation (which also rolls back when an item fails ``TransactWriteSingleOp`` checks)."""

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        try:
            snapshot = _snapshot(self, transact_items)
        except (KeyError, TypeError, AttributeError, StopIteration):
            return original(self, transact_items)  # malformed: moto's own path and its errors
        _state.per_item_rollback = True
        try:
            return original(self, transact_items)
        except BaseException:
            _restore(snapshot)
            raise
        finally:
            _state.per_item_rollback = False

    return transact_write_items


# --------------------------------------------------------------------------- DynamoDB query


@PATCHES.replaces("moto.dynamodb.models.table:Table", "query", "all_items")
def dynamodb_query_by_partition(original_query: Any, original_all_items: Any) -> tuple[Any, Any]:
    """A Query on a table's own key reads only the queried partition.

    Upstream: moto.dynamodb.models.table.Table.query, without an index, filters
    ``self.all_items()`` -- every item of the table, sorted -- for the hash key; it should read
    ``self.items[hash_key]``."""

    def all_items(self: Any) -> list[Any]:
        partition = getattr(_state, "query_partition", None)
        if partition is None or partition[0] is not self:
            return original_all_items(self)
        stored = dict.get(self.items, partition[1])  # dict.get: no defaultdict insertion
        if stored is None:
            return []
        return list(stored.values()) if self.range_key_attr else [stored]

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        _state.query_partition = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _state.query_partition = None

    return query, all_items


# --------------------------------------------------------------------------- SQS message counts


@PATCHES.replaces(
    "moto.sqs.models:Queue",
    "messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)
def sqs_message_counts(*_moto_counts: Any) -> tuple[Any, ...]:
    """Count a queue's visible, delayed and in-flight messages against one clock reading.

    Upstream: moto.sqs.models.Queue.messages and approximate_number_of_messages_* ask every
    message ``visible`` / ``delayed``, each reading the clock through datetime conversions, and
    ``SendMessage`` computes all queue attributes four times to read ContentBasedDeduplication:
    ~150 ms per send at 1,000 queued messages. Read the clock once per count."""
    from moto.core.utils import unix_time_millis

    def messages(self: Any) -> list[Any]:
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    return property(messages), property(delayed), property(not_visible)


def install() -> None:
    """Apply every performance patch to moto in this process (idempotent)."""
    PATCHES.install()
