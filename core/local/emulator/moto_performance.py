"""Performance patches for moto 5.2.5: calls the payment API makes on every request whose cost
grows with everything the emulator has stored -- a developer session that posts a few hundred
payments would otherwise see a POST climb past 100 ms (benchmarks/emulator_bench.py) -- and the
fixed work moto's server repeats for every request although its answer never changes (one
request to the local API makes ~15 emulator requests: benchmarks/emulator_cpu.py). Figures in BENCHMARKS.md.
Same results as moto's own code; each patch with its upstream note, applied through
core/local/emulator/patching.py.
"""

from __future__ import annotations

import copy
import functools
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


# --------------------------------------------------------------------------- DynamoDB update expressions

# A deployment's functions send a handful of distinct update expressions.
MEMOIZED_EXPRESSIONS = 1024


def _parsed_once(original: Any) -> Any:
    """``original`` (moto's UpdateExpressionParser) whose ``make`` parses each expression once. The
    tree is shared: every use of it in moto.dynamodb reads it (``find_clauses``) or deep-copies it
    first (``Validator.__init__``); an expression that does not parse raises every time."""
    make = functools.lru_cache(maxsize=MEMOIZED_EXPRESSIONS)(original.make)
    return type(original.__name__, (original,), {"make": staticmethod(make), "__module__": __name__})


@PATCHES.replaces("moto.dynamodb.models", "UpdateExpressionParser")
def dynamodb_update_expression_models(original: Any) -> Any:
    """UpdateItem parses each distinct UpdateExpression once (the backend's side).

    Upstream: an UpdateItem (or a TransactWriteItems Update) parses its UpdateExpression twice --
    moto.dynamodb.responses to list the names and values it uses, moto.dynamodb.models
    DynamoDBBackend.update_item to validate and run it -- tokenizing and building the tree from the
    string each time; moto could memoize ``UpdateExpressionParser.make`` by expression (its
    validator already works on a deep copy). No upstream issue or PR found (getmoto/moto searched
    2026-12-06)."""
    return _parsed_once(original)


@PATCHES.replaces("moto.dynamodb.responses", "UpdateExpressionParser")
def dynamodb_update_expression_responses(original: Any) -> Any:
    """UpdateItem parses each distinct UpdateExpression once (the request's side).

    Upstream: as for dynamodb_update_expression_models above."""
    return _parsed_once(original)


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


# --------------------------------------------------------------------------- server dispatch

# Hosts are few (one per service and region the deployment calls); a client naming endless made-up
# regions gets the unmemoized lookup past this many, not unbounded memory.
MEMOIZED_HOSTS = 1024


@PATCHES.replaces("moto.moto_server.werkzeug_app:DomainDispatcherApplication", "get_backend_for_host")
def server_backend_for_host(original: Any) -> Any:
    """The server's host -> backend lookup is made once per host, not on every request.

    Upstream: moto.moto_server.werkzeug_app.DomainDispatcherApplication.get_backend_for_host, which
    every request calls (some twice) while holding the dispatcher's one lock, lists moto's package
    directory (``backends.list_of_moto_modules``: an ``os.listdir`` and ~170 ``os.path.isdir``) and
    then tries every backend's URL regex in turn; for a running server the answer depends on the
    host alone, so it could be memoized (or the module list computed once). No upstream issue or PR
    found (getmoto/moto searched 2026-12-06; #4207/#4209 added the URL index, not a memo). An
    unknown host (None) is not memoized: it takes moto's own path, warning included, every time."""

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        memo: dict[str, Any] = self.__dict__.setdefault("_payments_backend_for_host", {})
        if host is not None and host in memo:
            return memo[host]
        backend = original(self, host)
        if host is not None and backend is not None and len(memo) < MEMOIZED_HOSTS:
            memo[host] = backend
        return backend

    return get_backend_for_host


# Names moto converts per request (actions, queue attribute names): a few hundred in all.
MEMOIZED_NAMES = 4096


def _memoized_camelcase(original: Any) -> Any:
    return functools.lru_cache(maxsize=MEMOIZED_NAMES)(original)


@PATCHES.replaces("moto.core.responses", "camelcase_to_underscores", "method_names_from_class")
def response_action_lookup(original_camelcase: Any, original_method_names: Any) -> tuple[Any, Any]:
    """Every request's action is found without listing its response class's members each time.

    Upstream: moto.core.responses.BaseResponse.call_action runs ``method_names_from_class`` --
    ``inspect.getmembers`` over the whole response class and its bases -- and the character-by-
    character ``camelcase_to_underscores`` on every request; both are pure functions of their
    argument (the class, the action name), so moto.core.utils could ``functools.cache`` them. No
    upstream issue or PR found (getmoto/moto searched 2026-12-06). A response class's methods are
    those it has when the first request reaches it: every emulator patch is applied before the
    server serves (server.py prepare_moto)."""
    method_names: dict[Any, list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        names = method_names.get(clazz)
        if names is None:
            names = method_names[clazz] = original_method_names(clazz)
        return names

    return _memoized_camelcase(original_camelcase), method_names_from_class


@PATCHES.replaces("moto.sqs.models", "camelcase_to_underscores")
def sqs_attribute_names(original: Any) -> Any:
    """A queue's attribute names are converted once, not on every read of ``Queue.attributes``.

    Upstream: moto.sqs.models.Queue.attributes converts each of its ~20 attribute names with
    ``camelcase_to_underscores`` every time it is read, and SendMessage reads it up to four times
    (see sqs_message_counts); the Python names could be a class-level table. No upstream issue or
    PR found (getmoto/moto searched 2026-12-06)."""
    return _memoized_camelcase(original)


def install() -> None:
    """Apply every performance patch to moto in this process (idempotent)."""
    PATCHES.install()
