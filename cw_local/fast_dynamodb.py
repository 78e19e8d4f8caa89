"""Two costs of moto's DynamoDB that belong to the emulator, not to the client being measured.

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

Idempotent; effective for ``mock_aws`` and for a moto server in the same process.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.responses import ActionContext
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

ITEM_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
CONTENT_TYPE = "application/x-amz-json-1.0"
_MARKER = "_cw_local_fast_dynamodb"
_original_execute_result = DynamoResult.execute_result
_original_query = Table.query


def install() -> None:
    if getattr(Table, _MARKER, False):
        return
    DynamoResult.execute_result = _execute_result
    Table.query = _query
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
