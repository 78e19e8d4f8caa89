"""Three costs of moto's DynamoDB that belong to the emulator, not to the client being measured.

- **Query scans and sorts the whole table.** moto 5.2 answers a Query on the base table by sorting every
  item of the table and keeping those of the wanted partition: 37 ms per Query on a table of 6,420
  items, growing with the table, where DynamoDB costs O(log n + results). `install()` hands the Query
  only the wanted partition (moto's own filtering, sorting and paging then run unchanged over it).
  Queries on an index keep moto's behaviour.
- **Every response goes through a generic serializer** that walks botocore's shape model value by value:
  a BatchGetItem of 100 items of ~20 attributes costs ~100 ms there, ten times the call's other work. The
  results of GetItem, BatchGetItem, Query and Scan are already DynamoDB JSON (``{"S": ...}``,
  ``{"N": "1.5"}``: moto's ``dynamo_to_dict``), so they are written with ``json.dumps``; anything else,
  errors included, still goes through moto's serializer.
- **Every TransactWriteItems deep-copies the whole table, once per action, for its rollback.** A
  transaction of 100 actions on a table of a few thousand items copies the table 100 times: the memory of
  a run that notifies a whole estate grew past 12 GB, quadratic in the table's size. `install()` has moto's
  transaction skip those copies and keeps instead a copy of each item the transaction names (the only
  items it can change), put back if the transaction is cancelled: the same all-or-nothing outcome.

Idempotent; effective for ``mock_aws`` and for a moto server in the same process.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

from moto.core.responses import ActionContext
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

ITEM_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
CONTENT_TYPE = "application/x-amz-json-1.0"
_MARKER = "_cw_local_fast_dynamodb"
_original_execute_result = DynamoResult.execute_result
_original_query = Table.query
_original_transact_write_items = DynamoDBBackend.transact_write_items
_transaction = threading.local()  # set while moto's TransactWriteItems runs under `_transact_write_items`


def install() -> None:
    if getattr(Table, _MARKER, False):
        return
    DynamoResult.execute_result = _execute_result
    Table.query = _query
    DynamoDBBackend.transact_write_items = _transact_write_items
    dynamodb_models.copy = _RollbackCopies()
    setattr(Table, _MARKER, True)


class _OnePartition:
    """The table as moto's Query sees it, holding only one partition's items (everything else delegated)."""

    def __init__(self, table: Table, hash_key: Any) -> None:
        self._table = table
        self._hash_key = hash_key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list:
        found = self._table.items.get(self._hash_key)  # .get: never creates the partition (a defaultdict)
        if found is None:
            return []
        if not self._table.range_key_attr:
            return [found]
        return sorted(found.values(), key=lambda item: item.range_key)


def _query(
    self: Table,
    hash_key: Any,
    range_comparison: Any,
    range_objs: Any,
    limit: Any,
    exclusive_start_key: Any,
    scan_index_forward: Any,
    projection_expressions: Any,
    index_name: str | None = None,
    *args: Any,
    **kwargs: Any,
):
    # moto's DynamoDBBackend.query passes index_name positionally, eighth after the hash key.
    target = _OnePartition(self, hash_key) if index_name is None and hash_key is not None else self
    return _original_query(
        target,
        hash_key,
        range_comparison,
        range_objs,
        limit,
        exclusive_start_key,
        scan_index_forward,
        projection_expressions,
        index_name,
        *args,
        **kwargs,
    )


def _execute_result(self: DynamoResult, context: ActionContext):
    if context.operation_model.name in ITEM_OPERATIONS and isinstance(self.result, dict):
        try:
            body = json.dumps(self.result)
        except TypeError:  # something moto's serializer must convert (a timestamp): leave it to it
            return _original_execute_result(self, context)
        return 200, {"Content-Type": CONTENT_TYPE}, body
    return _original_execute_result(self, context)


class _RollbackCopies:
    """``copy`` as moto's DynamoDB backend module sees it: inside `_transact_write_items`, the whole-table
    "copy" moto keeps for a rollback is the live table (nothing copied); everywhere else, `copy` itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(_transaction, "active", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    try:
        saved = [_saved_item(self, action) for action in transact_items]
    except (KeyError, TypeError, StopIteration, AttributeError):  # malformed: moto's own path answers it
        return _original_transact_write_items(self, transact_items)
    _transaction.active = True
    try:
        return _original_transact_write_items(self, transact_items)
    except Exception:
        # moto "restored" the live tables (no copies were made): put back each item the transaction named.
        for table, hash_key, range_key, item in reversed([s for s in saved if s is not None]):
            _put_back(table, hash_key, range_key, item)
        raise
    finally:
        _transaction.active = False


def _saved_item(backend: DynamoDBBackend, action: dict[str, Any]):
    """(table, hash key, range key, a copy of the item or None) for one action, None for an unknown table."""
    operation, request = next(iter(action.items()))
    table = backend.tables.get(request.get("TableName"))
    if table is None:
        return None
    key = request["Item"] if operation == "Put" else request["Key"]
    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    partition = table.items.get(hash_key)  # .get: never creates the partition (a defaultdict)
    item = partition.get(range_key) if range_key is not None and partition is not None else partition
    return table, hash_key, range_key, copy.deepcopy(item)


def _put_back(table: Table, hash_key: DynamoType, range_key: DynamoType | None, item: Any) -> None:
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    partition = table.items[hash_key]
    if item is None:
        partition.pop(range_key, None)
        if not partition:
            del table.items[hash_key]
    else:
        partition[range_key] = item
