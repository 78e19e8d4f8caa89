"""Item-bearing DynamoDB responses of the emulator written straight as JSON.

moto 5.2 answers every call through a generic serializer that walks botocore's shape model value by value:
a BatchGetItem of 100 items of ~20 attributes costs it ~100 ms, ten times the call's other work, and one
Query of three items several milliseconds. Benchmarks comparing two clients of the emulator would measure
that serializer more than the clients. The results of GetItem, BatchGetItem, Query and Scan are already
DynamoDB JSON (``{"S": ...}``, ``{"N": "1.5"}``: moto's ``dynamo_to_dict``), so `install()` writes them with
``json.dumps`` instead; anything else, errors included, still goes through moto's serializer.
"""

from __future__ import annotations

import json

from moto.core.responses import ActionContext
from moto.dynamodb.responses import DynamoResult

ITEM_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
CONTENT_TYPE = "application/x-amz-json-1.0"
_MARKER = "_cw_local_json_items"
_original = DynamoResult.execute_result


def install() -> None:
    if getattr(DynamoResult, _MARKER, False):
        return
    DynamoResult.execute_result = _execute_result
    setattr(DynamoResult, _MARKER, True)


def _execute_result(self: DynamoResult, context: ActionContext):
    if context.operation_model.name in ITEM_OPERATIONS and isinstance(self.result, dict):
        try:
            body = json.dumps(self.result)
        except TypeError:  # something moto's serializer must convert (a timestamp): leave it to it
            return _original(self, context)
        return 200, {"Content-Type": CONTENT_TYPE}, body
    return _original(self, context)
