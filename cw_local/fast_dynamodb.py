"""Costs of moto's DynamoDB that belong to the emulator, not to the client being measured, and one fix.

- **Query scans and sorts the whole table.** moto 5.2 answers a Query on the base table by sorting every
  item of the table and keeping those of the wanted partition: 37 ms per Query on a table of 6,420
  items, growing with the table, where DynamoDB costs O(log n + results). `install()` hands the Query
  only the wanted partition (moto's own filtering, sorting and paging then run unchanged over it).
  Queries on an index keep moto's behaviour. moto's Query then deep-copies every item it found before turning
  it into the answer (~10% of the emulator's CPU under the baseline's 5,380 Queries); the answer only reads
  them (a projection builds new items), so on the base table the items found are answered as they are.
- **Every response goes through a generic serializer** that walks botocore's shape model value by value:
  a BatchGetItem of 100 items of ~20 attributes costs ~100 ms there, ten times the call's other work. The
  results of GetItem, BatchGetItem, Query and Scan are already DynamoDB JSON (``{"S": ...}``,
  ``{"N": "1.5"}``: moto's ``dynamo_to_dict``), so they are written with ``json.dumps`` (the numbers of their
  ``ConsumedCapacity`` as doubles, as the model and moto's serializer have them); anything else, errors
  included, still goes through moto's serializer.
- **Every TransactWriteItems deep-copies the whole table, once per action, for its rollback.** A
  transaction of 100 actions on a table of a few thousand items copies the table 100 times: the memory of
  a run that notifies a whole estate grew past 12 GB, quadratic in the table's size. `install()` has moto's
  transaction skip those copies and keeps instead a copy of each item the transaction names (the only
  items it can change), put back if the transaction is cancelled: the same all-or-nothing outcome.
- **Items and attribute values** are built, sized, parsed and answered without moto's generic walks
  (`cw_local.dynamodb_items`: what each costs moto, and why the result is the same).

One fix of moto itself, for the HTTP server's concurrent requests: moto's ``Table`` keeps its partitions in a
``defaultdict`` and creates one, on the first write to it (or even a read), without a lock; two requests that
create the same partition at once can each create it, and the items the first one wrote into its copy are
lost (2 in 8,000 seen with 8 concurrent BatchWriteItem calls). `install()` creates partitions under a lock.
DynamoDB loses no write this way, so no client needs to work around it.

Idempotent; effective for ``mock_aws`` and for a moto server in the same process.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import defaultdict
from typing import Any

from moto.core.parse import JSONParser
from moto.core.responses import ActionContext
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as table_module
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

from cw_local import dynamodb_items

ITEM_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
CONTENT_TYPE = "application/x-amz-json-1.0"
_MARKER = "_cw_local_fast_dynamodb"
_original_execute_result = DynamoResult.execute_result
_original_query = Table.query
_original_transact_write_items = DynamoDBBackend.transact_write_items
_original_table_init = Table.__init__
_transaction = threading.local()  # set while moto's TransactWriteItems runs under `_transact_write_items`
_answer_only = threading.local()  # set while moto's Query runs on a base table under `_query`


def install() -> None:
    if getattr(Table, _MARKER, False):
        return
    DynamoResult.execute_result = _execute_result
    Table.query = _query
    DynamoDBBackend.transact_write_items = _transact_write_items
    dynamodb_models.copy = _RollbackCopies()
    table_module.copy = _QueryCopies()
    Table.__init__ = _table_init
    Item.__init__ = dynamodb_items.item_init
    DynamoType.size = dynamodb_items.size
    Item.size = dynamodb_items.item_size
    # used there only by BatchWriteItem's duplicate check
    dynamodb_responses.dynamo_json_dump = dynamodb_items.duplicate_key
    JSONParser._parse_shape = dynamodb_items.parse_shape
    dynamodb_responses.dynamo_to_dict = dynamodb_items.dynamo_to_dict  # what DynamoResult converts its result with
    setattr(Table, _MARKER, True)


# --- partitions created under a lock ---------------------------------------------------------------------

_partition_creation = threading.Lock()


class _Partitions(defaultdict):
    """moto's ``Table.items`` (partition key -> {sort key -> item}), whose missing partition is created under a
    lock: a request that finds the partition missing and one that creates it meanwhile get the same dict."""

    def __missing__(self, key: Any) -> Any:
        with _partition_creation:
            partition = dict.get(self, key)  # not self[key]: that would come back here
            if partition is None:
                partition = self.default_factory()
                dict.__setitem__(self, key, partition)
            return partition


def _table_init(self: Table, *args: Any, **kwargs: Any) -> None:
    _original_table_init(self, *args, **kwargs)
    self.items = _Partitions(self.items.default_factory, self.items)


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
    _answer_only.active = index_name is None
    try:
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
    finally:
        _answer_only.active = False


class _QueryCopies:
    """``copy`` as moto's table module sees it: inside `_query` on the base table, the deep copy moto's Query makes
    of the items it found is a new list of the same items; everywhere else, `copy` itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(_answer_only, "active", False) and type(value) is list:
            return list(value)
        return copy.deepcopy(value, memo)


def _execute_result(self: DynamoResult, context: ActionContext):
    if context.operation_model.name in ITEM_OPERATIONS and isinstance(self.result, dict):
        result = self.result
        if "ConsumedCapacity" in result:
            # Its numbers are doubles in the model: moto's serializer writes BatchGetItem's count of keys as 2.0.
            result = {**result, "ConsumedCapacity": _doubles(result["ConsumedCapacity"])}
        try:
            body = json.dumps(result)
        except TypeError:  # something moto's serializer must convert (a timestamp): leave it to it
            return _original_execute_result(self, context)
        return 200, {"Content-Type": CONTENT_TYPE}, body
    return _original_execute_result(self, context)


def _doubles(value: Any) -> Any:
    if type(value) is int:
        return float(value)
    if isinstance(value, dict):
        return {key: _doubles(entry) for key, entry in value.items()}
    if isinstance(value, list):
        return [_doubles(entry) for entry in value]
    return value


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
