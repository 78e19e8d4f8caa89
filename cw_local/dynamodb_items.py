"""DynamoDB items and attribute values, built, sized, parsed and answered without moto's generic walks.

Installed by `cw_local.fast_dynamodb.install` with the emulator's other DynamoDB paths; each function here stands
in for the moto method named in its comment, with the same result.

- **Every item is sized once per attribute, per attribute.** moto's ``Item`` keeps its attributes in a
  ``LimitedSizeDict`` whose every insertion sums the size of all the attributes already there (the 400 KB
  limit), so building an item of n attributes costs n²/2 sizings; with ~20 attributes per item and 25 items
  per BatchWriteItem, that was the largest single cost of a write. `item_init` builds the item with a running
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
"""

from __future__ import annotations

from typing import Any

from moto.core.parse import JSONParser
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict limit (AWS's 400 KB, as moto measured it)
_original_size = DynamoType.size
_original_parse_shape = JSONParser._parse_shape
_original_dynamo_to_dict = dynamodb_responses.dynamo_to_dict
_original_json_dump = dynamodb_responses.dynamo_json_dump


# --- items built and sized without quadratic work --------------------------------------------------------


def item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
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
        added = (len(key.encode("utf-8")) if type(key) is str else bytesize(str(key))) + size(attribute)
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


def size(self: DynamoType) -> int:
    kind, value = self.type, self.value
    if kind == "S" and type(value) is str:
        return len(value.encode("utf-8"))  # moto: bytesize(value)
    if kind == "N":
        return len(str(value))  # moto: the number's text
    return _original_size(self)


def item_size(self: Item) -> int:
    # moto: sum(bytesize(key) + value.size() for key, value in self.attrs.items())
    return sum(
        (len(key.encode("utf-8")) if type(key) is str else bytesize(key)) + size(value)
        for key, value in self.attrs.items()
    )


def duplicate_key(item: dict[str, Any]) -> Any:
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


def parse_shape(self: JSONParser, shape: Any, node: Any) -> Any:
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


def dynamo_to_dict(value: Any) -> Any:
    kind = type(value)
    if kind is DynamoType:
        inner = value.value
        if value.type in _SCALAR_TYPES and (type(inner) is str or type(inner) is bool):
            return {value.type: inner}
        return _original_dynamo_to_dict(value)
    if kind is dict or kind is LimitedSizeDict:
        return {key: dynamo_to_dict(entry) for key, entry in value.items()}
    if kind is list:
        return [dynamo_to_dict(entry) for entry in value]
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value
    return _original_dynamo_to_dict(value)
