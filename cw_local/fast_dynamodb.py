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
- **Every item is sized once per attribute, per attribute.** moto's ``Item`` keeps its attributes in a
  ``LimitedSizeDict`` whose every insertion sums the size of all the attributes already there (the 400 KB
  limit), so building an item of n attributes costs n²/2 sizings; with ~20 attributes per item and 25 items
  per BatchWriteItem, that was the largest single cost of a write. `install()` builds the item with a running
  total instead: the same check against the same limit at the same attribute, the same ``ItemSizeTooLarge``,
  the same stored item (a string or number attribute is made as ``DynamoType`` makes it, without its generic
  checks). The sizes themselves (``DynamoType.size`` and ``Item.size``, read for every item a Query or a
  BatchGetItem returns, twice) are computed directly for strings and numbers: the figures moto computes.
- **Every request walks botocore's shapes value by value.** An attribute value (``{"S": "x"}``) is parsed by
  visiting the ten members of ``AttributeValue`` to find the one present, and the result is a copy of what
  came: a string, number, boolean or null value, or an item made only of them, is now taken as decoded from
  the request's JSON (what that visit returns for it); anything else (maps, lists, sets, binaries, malformed
  values) still goes through moto's parser. BatchWriteItem then compares its requests for duplicates by their
  JSON texts, dumping every item; an item made only of such values is compared by the tuple of its (name,
  type, value) instead, equal exactly when the texts are.
- **Every item answered is converted value by value.** ``dynamo_to_dict`` turns items into DynamoDB JSON with
  generic checks (``isinstance``, ``hasattr(..., "to_json")``) for every value; the same conversion is done by
  type for strings, numbers, booleans and nulls, and by moto for everything else.

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
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as table_module
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoResult

ITEM_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
CONTENT_TYPE = "application/x-amz-json-1.0"
_MARKER = "_cw_local_fast_dynamodb"
_original_execute_result = DynamoResult.execute_result
_original_query = Table.query
_original_transact_write_items = DynamoDBBackend.transact_write_items
_original_table_init = Table.__init__
_original_size = DynamoType.size
_original_parse_shape = JSONParser._parse_shape
_original_dynamo_to_dict = dynamodb_responses.dynamo_to_dict
_original_json_dump = dynamodb_responses.dynamo_json_dump
_transaction = threading.local()  # set while moto's TransactWriteItems runs under `_transact_write_items`
_answer_only = threading.local()  # set while moto's Query runs on a base table under `_query`
ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict limit (AWS's 400 KB, as moto measured it)


def install() -> None:
    if getattr(Table, _MARKER, False):
        return
    DynamoResult.execute_result = _execute_result
    Table.query = _query
    DynamoDBBackend.transact_write_items = _transact_write_items
    dynamodb_models.copy = _RollbackCopies()
    table_module.copy = _QueryCopies()
    Table.__init__ = _table_init
    Item.__init__ = _item_init
    DynamoType.size = _size
    Item.size = _item_size
    dynamodb_responses.dynamo_json_dump = _duplicate_key  # used there only by BatchWriteItem's duplicate check
    JSONParser._parse_shape = _parse_shape
    dynamodb_responses.dynamo_to_dict = _dynamo_to_dict  # the name DynamoResult converts its result with
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


# --- items built and sized without quadratic work --------------------------------------------------------


def _item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    # moto: ``self.attrs = LimitedSizeDict()`` then ``self.attrs[key] = DynamoType(value)`` per attribute, each
    # insertion refused (ItemSizeTooLarge) when the attributes already there plus the new one exceed the limit.
    self.hash_key = hash_key
    self.range_key = range_key
    self.attrs = LimitedSizeDict()
    total = 0
    for key, value in attrs.items():
        attribute = _scalar_attribute(value)
        if attribute is None:
            attribute = DynamoType(value)
        added = (len(key.encode("utf-8")) if type(key) is str else bytesize(str(key))) + _size(attribute)
        if total + added > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(self.attrs, key, attribute)
        total += added


def _scalar_attribute(value: Any) -> DynamoType | None:
    """``DynamoType(value)`` for ``{"S": str}`` or ``{"N": str}`` (its type and value, as moto sets them), else None."""
    if type(value) is dict and len(value) == 1:
        ((kind, inner),) = value.items()
        if (kind == "S" or kind == "N") and type(inner) is str:
            attribute = DynamoType.__new__(DynamoType)
            attribute.type = kind
            attribute.value = inner
            return attribute
    return None


def _size(self: DynamoType) -> int:
    kind, value = self.type, self.value
    if kind == "S" and type(value) is str:
        return len(value.encode("utf-8"))  # moto: bytesize(value)
    if kind == "N":
        return len(str(value))  # moto: the number's text
    return _original_size(self)


def _item_size(self: Item) -> int:
    # moto: sum(bytesize(key) + value.size() for key, value in self.attrs.items())
    return sum(
        (len(key.encode("utf-8")) if type(key) is str else bytesize(key)) + _size(value)
        for key, value in self.attrs.items()
    )


def _duplicate_key(item: dict[str, Any]) -> Any:
    """What BatchWriteItem compares its requests by, for duplicates: moto compares their JSON texts. An item of
    strings, numbers, booleans and nulls compares by the tuple of its (name, type, value), equal exactly when
    those texts are; any other item by its text (a tuple never equals a text)."""
    entries = []
    for name, value in item.items():
        if type(value) is not dict or len(value) != 1:
            return _original_json_dump(item)
        ((kind, inner),) = value.items()
        if type(inner) is not _SCALAR_TYPES.get(kind):
            return _original_json_dump(item)
        entries.append((name, kind, inner))
    return tuple(entries)


# --- attribute values parsed and answered by type --------------------------------------------------------

_SCALAR_TYPES = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
_ATTRIBUTE_VALUE_MEMBERS = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
_shapes: dict[int, tuple[Any, str | None]] = {}  # id -> (the shape, kept so the id stays its own; its kind)


def _kind_of(shape: Any) -> str | None:
    """``value`` for DynamoDB's ``AttributeValue`` structure, ``map`` for a map of strings to it, else None."""
    known = _shapes.get(id(shape))
    if known is None or known[0] is not shape:
        kind = None
        if _is_attribute_value(shape):
            kind = "value"
        elif shape.type_name == "map" and shape.key.type_name == "string" and _is_attribute_value(shape.value):
            kind = "map"
        known = _shapes[id(shape)] = (shape, kind)
    return known[1]


def _is_attribute_value(shape: Any) -> bool:
    if shape.name != "AttributeValue" or shape.type_name != "structure":
        return False
    members = shape.members
    return tuple(members) == _ATTRIBUTE_VALUE_MEMBERS and not any(m.serialization for m in members.values())


def _parse_shape(self: JSONParser, shape: Any, node: Any) -> Any:
    # moto's JSON parser visits every member of a structure and keeps those present, and gives strings and
    # booleans back as they came: a value with one scalar member parses to that member as it came, and a map
    # of such values (an item, a key) to the same map. Anything else is parsed by moto.
    # (The JSON body was decoded for this request alone: its dicts can be the parsed ones.)
    kind = _kind_of(shape)
    if self.MAP_TYPE is dict and type(node) is dict:
        if kind == "map" and all(type(name) is str and _is_scalar(value) for name, value in node.items()):
            return node
        if kind == "value" and _is_scalar(node):
            return node
    return _original_parse_shape(self, shape, node)


def _is_scalar(node: Any) -> bool:
    if type(node) is dict and len(node) == 1:
        ((kind, value),) = node.items()
        return type(value) is _SCALAR_TYPES.get(kind)
    return False


def _dynamo_to_dict(value: Any) -> Any:
    kind = type(value)
    if kind is DynamoType:
        inner = value.value
        if value.type in _SCALAR_TYPES and (type(inner) is str or type(inner) is bool):
            return {value.type: inner}
        return _original_dynamo_to_dict(value)
    if kind is dict or kind is LimitedSizeDict:
        return {key: _dynamo_to_dict(entry) for key, entry in value.items()}
    if kind is list:
        return [_dynamo_to_dict(entry) for entry in value]
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value
    return _original_dynamo_to_dict(value)


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
