"""One run of DynamoDB requests against moto, printed as JSON: every answer (or error) and the stored state.

``python fast_paths_scenario.py [--patched]`` runs the same requests twice, in-process (``mock_aws``) and over
HTTP (an in-process ``ThreadedMotoServer``), with moto as it is or with `cw_local.fast_dynamodb` and
`cw_local.fast_server` installed. `test_emulator_fast_paths` runs it both ways, each in a fresh interpreter
(the patches cannot be taken back once installed), and compares: the patches must change no answer, no error
and no stored item. The requests cover what the patched paths take (items of strings, numbers, booleans and
nulls) and what they hand back to moto (maps, lists, sets, binaries, malformed values), and moto's checks on
both (sizes, numbers, empty and missing keys, duplicates, conditions).
"""

from __future__ import annotations

import base64
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
TABLE, HASH_ONLY, INDEXED = "metrics", "hash-only", "indexed"
ITEM_SIZE_LIMIT = 405000  # moto's


def scalar_item(pk: str, sk: str, n: int) -> dict:
    return {
        "pk": {"S": pk},
        "sk": {"S": sk},
        "resource": {"S": f"fn-{n:04d}"},
        "invocations": {"N": str(n)},
        "ratio": {"N": ["1.50", "-0", "1e3", "0.000001", "12345678901234567890123456789012345678"][n % 5]},
        "label": {"S": ["", "é", "日本語", "x" * 300, "plain"][n % 5]},
        "ok": {"BOOL": n % 2 == 0},
        "nothing": {"NULL": True},
        "expires_at": {"N": str(1_000_000_000 if n % 3 == 0 else 4_000_000_000)},  # past and future TTL
    }


def complex_item(pk: str, sk: str) -> dict:
    return {
        "pk": {"S": pk},
        "sk": {"S": sk},
        "m": {"M": {"a": {"S": "x"}, "n": {"N": "2"}, "inner": {"M": {"l": {"L": [{"N": "1"}, {"S": "y"}]}}}}},
        "l": {"L": [{"S": "a"}, {"NULL": True}, {"BOOL": False}, {"M": {}}]},
        "ss": {"SS": ["b", "a"]},
        "ns": {"NS": ["3", "1.5"]},
        "bs": {"BS": [b"\x00\x01", b"\xff"]},
        "b": {"B": b"\x00binary\xff"},
        "s": {"S": "scalar beside the rest"},
    }


def requests() -> list[tuple[str, str, dict]]:
    """(label, operation, parameters): every request of the run, in order."""
    put = lambda item: {"PutRequest": {"Item": item}}  # noqa: E731
    delete = lambda pk, sk: {"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}  # noqa: E731
    batch = lambda *requests, table=TABLE: {"RequestItems": {table: list(requests)}}  # noqa: E731
    key = lambda pk, sk: {"pk": {"S": pk}, "sk": {"S": sk}}  # noqa: E731
    big = lambda size: {"pk": {"S": "big"}, "sk": {"S": "1"}, "blob": {"S": "x" * size}}  # noqa: E731
    # pk (2 + 3 bytes) + sk (2 + 1) + blob (4 + size): over moto's limit from size 404,989 on.
    fits, too_big = ITEM_SIZE_LIMIT - 12, ITEM_SIZE_LIMIT - 11
    return [
        ("new partitions", "batch_write_item",
         batch(*(put(scalar_item(f"p{i % 5}", f"{i:03d}", i)) for i in range(25)))),
        ("more of the same partitions", "batch_write_item",
         batch(*(put(scalar_item(f"p{i % 7}", f"{i:03d}", i)) for i in range(25, 50)))),
        ("maps, lists, sets, binaries", "batch_write_item",
         batch(put(complex_item("c", "1")), put(complex_item("c", "2")), put(scalar_item("c", "3", 3)))),
        ("overwrites and deletes", "batch_write_item",
         batch(put(scalar_item("p0", "000", 99)), delete("p1", "001"), delete("p9", "missing"))),
        ("same item twice", "batch_write_item", batch(put(scalar_item("d", "1", 1)), put(scalar_item("d", "1", 1)))),
        ("same key, other content", "batch_write_item",
         batch(put(scalar_item("d", "2", 1)), put(scalar_item("d", "2", 2)))),
        ("same item, attributes in another order", "batch_write_item",
         batch(put(scalar_item("d", "3", 1)), put(dict(reversed(list(scalar_item("d", "3", 1).items())))))),
        ("same complex item twice", "batch_write_item",
         batch(put(complex_item("d", "4")), put(complex_item("d", "4")))),
        ("same delete twice", "batch_write_item", batch(delete("p0", "000"), delete("p0", "000"))),
        ("not a number", "batch_write_item", batch(put({**key("e", "1"), "n": {"N": "abc"}}))),
        ("a number with spaces", "batch_write_item", batch(put({**key("e", "2"), "n": {"N": " 1"}}))),
        ("a number too large", "batch_write_item", batch(put({**key("e", "3"), "n": {"N": "1e200"}}))),
        ("a null that is false", "batch_write_item", batch(put({**key("e", "4"), "z": {"NULL": False}}))),
        ("an empty key", "batch_write_item", batch(put({**key("", "1"), "n": {"N": "1"}}))),
        ("a missing sort key", "batch_write_item", batch(put({"pk": {"S": "e"}, "n": {"N": "1"}}))),
        ("a key of the wrong type", "batch_write_item", batch(put({"pk": {"N": "1"}, "sk": {"S": "1"}}))),
        ("an item at the size limit", "batch_write_item", batch(put(big(fits)))),
        ("an item over the size limit", "batch_write_item", batch(put(big(too_big)))),
        ("an unknown table", "batch_write_item", batch(put(scalar_item("x", "1", 1)), table="nope")),
        ("hash-only table", "batch_write_item",
         {"RequestItems": {HASH_ONLY: [put({"id": {"S": f"h{i}"}, "n": {"N": str(i)}}) for i in range(10)]}}),
        ("indexed table", "batch_write_item",
         {"RequestItems": {INDEXED: [put({**scalar_item(f"g{i % 3}", f"{i:02d}", i), "gk": {"S": f"k{i % 2}"}})
                                     for i in range(12)]}}),
        ("put, new", "put_item", {"TableName": TABLE, "Item": scalar_item("u", "1", 7), "ReturnValues": "ALL_OLD"}),
        ("put, replacing", "put_item",
         {"TableName": TABLE, "Item": scalar_item("u", "1", 8), "ReturnValues": "ALL_OLD"}),
        ("put, condition failed", "put_item",
         {"TableName": TABLE, "Item": scalar_item("u", "1", 9), "ConditionExpression": "attribute_not_exists(pk)",
          "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
        ("put, condition met", "put_item",
         {"TableName": TABLE, "Item": scalar_item("u", "2", 9), "ConditionExpression": "attribute_not_exists(pk)"}),
        ("update", "update_item",
         {"TableName": TABLE, "Key": key("u", "1"), "UpdateExpression": "SET label = :l ADD invocations :one",
          "ExpressionAttributeValues": {":l": {"S": "updated"}, ":one": {"N": "1"}}, "ReturnValues": "ALL_NEW"}),
        ("update past the size limit", "update_item",
         {"TableName": TABLE, "Key": key("big", "1"), "UpdateExpression": "SET more = :m",
          "ExpressionAttributeValues": {":m": {"S": "x" * 100}}}),
        ("get", "get_item", {"TableName": TABLE, "Key": key("p2", "002")}),
        ("get, missing", "get_item", {"TableName": TABLE, "Key": key("p2", "nope")}),
        ("get, complex", "get_item", {"TableName": TABLE, "Key": key("c", "1")}),
        ("batch get", "batch_get_item",
         {"RequestItems": {TABLE: {"Keys": [key(f"p{i % 7}", f"{i:03d}") for i in range(0, 60, 2)]
                                   + [key("c", "1"), key("nowhere", "1"), key("p3", "none")]}}}),
        ("batch get, projected", "batch_get_item",
         {"RequestItems": {TABLE: {"Keys": [key("p2", "002"), key("c", "2")], "ProjectionExpression": "#r, m.inner, sk",
                                   "ExpressionAttributeNames": {"#r": "resource"}}}}),
        ("batch get, two tables", "batch_get_item",
         {"RequestItems": {TABLE: {"Keys": [key("p4", "004")]}, HASH_ONLY: {"Keys": [{"id": {"S": "h3"}}]}}}),
        ("batch get, same key twice", "batch_get_item", {"RequestItems": {TABLE: {"Keys": [key("p2", "002")] * 2}}}),
        ("batch get, 101 keys", "batch_get_item",
         {"RequestItems": {TABLE: {"Keys": [key("p2", f"{i:03d}") for i in range(101)]}}}),
        ("query", "query",
         {"TableName": TABLE, "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
          "ExpressionAttributeValues": {":p": {"S": "p3"}, ":a": {"S": "000"}, ":b": {"S": "040"}}}),
        ("query, filtered, backwards, paged", "query",
         {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "FilterExpression": "invocations > :n",
          "ExpressionAttributeValues": {":p": {"S": "p4"}, ":n": {"N": "10"}}, "ScanIndexForward": False, "Limit": 3}),
        ("query, projected", "query",
         {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "ProjectionExpression": "sk, ratio",
          "ExpressionAttributeValues": {":p": {"S": "p5"}}}),
        ("query, count", "query",
         {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "Select": "COUNT",
          "ExpressionAttributeValues": {":p": {"S": "p6"}}}),
        ("query, complex items", "query",
         {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "c"}}}),
        ("query, an index", "query",
         {"TableName": INDEXED, "IndexName": "by-gk", "KeyConditionExpression": "gk = :k",
          "ExpressionAttributeValues": {":k": {"S": "k1"}}}),
        ("scan, a page", "scan", {"TableName": TABLE, "Limit": 7}),
        ("scan", "scan", {"TableName": HASH_ONLY}),
        ("transaction", "transact_write_items",
         {"TransactItems": [{"Put": {"TableName": TABLE, "Item": scalar_item("t", str(i), i)}} for i in range(5)]}),
        ("transaction, cancelled", "transact_write_items",
         {"TransactItems": [{"Put": {"TableName": TABLE, "Item": scalar_item("t", "9", 9)}},
                            {"Put": {"TableName": TABLE, "Item": scalar_item("t", "1", 1),
                                     "ConditionExpression": "attribute_not_exists(pk)"}}]}),
    ]  # fmt: skip


def malformed_requests() -> list[tuple[str, str, dict]]:
    """Values botocore would refuse to send: moto's own checks must answer them, patched or not."""
    key = {"pk": {"S": "w"}, "sk": {"S": "1"}}
    item = lambda **attribute: {"RequestItems": {TABLE: [{"PutRequest": {"Item": {**key, **attribute}}}]}}  # noqa: E731
    return [
        ("a number sent as a JSON number", "batch_write_item", item(n={"N": 5})),
        ("a string sent as a JSON number", "batch_write_item", item(s={"S": 5})),
        ("two types in one value", "batch_write_item", item(v={"S": "a", "N": "1"})),
        ("a null value", "batch_write_item", item(v={"S": None})),
        ("a boolean sent as text", "batch_write_item", item(v={"BOOL": "true"})),
    ]


def create_tables(client) -> None:
    keys = [("pk", "HASH"), ("sk", "RANGE")]
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    client.create_table(
        TableName=HASH_ONLY,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName=INDEXED,
        KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gk")],
        GlobalSecondaryIndexes=[
            {"IndexName": "by-gk", "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}}
        ],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip


def answer(call: Callable[..., dict], parameters: dict) -> dict:
    try:
        response = call(**parameters)
    except ClientError as error:
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        if status >= 500:  # an internal error's text is a traceback, which names the functions it went through
            return {"status": status}
        details = {k: v for k, v in error.response.items() if k != "ResponseMetadata"}
        return {"status": status, "error": details}
    except Exception as error:  # in-process, what moto raises reaches the caller (over HTTP: a 500)
        return {"raised": type(error).__name__}
    response.pop("ResponseMetadata")
    return {"status": 200, "answer": response}


def stored() -> dict:
    """Every table's partitions and items as moto holds them: order, types and sizes included."""
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    tables = {}
    for name, table in backend.tables.items():
        partitions = []
        for hash_key, partition in table.items.items():
            items = partition.values() if table.range_key_attr else [partition]
            partitions.append([plain(hash_key), [describe(item) for item in items]])
        tables[name] = {"items": len(table), "partitions": partitions}
    return tables


def describe(item: Item) -> dict:
    assert set(vars(item)) == {"hash_key", "range_key", "attrs"}, vars(item)
    return {
        "key": [plain(item.hash_key), plain(item.range_key)],
        "attrs": [[name, plain(value)] for name, value in item.attrs.items()],
        "attrs_type": type(item.attrs).__name__,
        "size": item.size(),
        "json": plain(item.to_json()),
    }


def plain(value: Any) -> Any:
    """A JSON-able picture of moto's values, keeping types and order."""
    if isinstance(value, DynamoType):
        assert set(vars(value)) == {"type", "value"}, vars(value)
        return {"DynamoType": value.type, "value": plain(value.value), "size": value.size()}
    if isinstance(value, dict):
        return [type(value).__name__, [[plain(k), plain(v)] for k, v in value.items()]]
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    return value


def run(session: boto3.Session, endpoint_url: str | None) -> dict:
    once = {"max_attempts": 1}  # an error is answered once, not retried
    client = session.client("dynamodb", endpoint_url=endpoint_url, config=Config(retries=once))
    unchecked = session.client(
        "dynamodb", endpoint_url=endpoint_url, config=Config(retries=once, parameter_validation=False)
    )
    create_tables(client)
    answers = []
    for label, operation, parameters in requests():
        answers.append([label, answer(getattr(client, operation), parameters)])
    for label, operation, parameters in malformed_requests():
        answers.append([label, answer(getattr(unchecked, operation), parameters)])
    return {"answers": answers, "stored": stored()}


def main(patched: bool) -> dict:
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # the 500s moto answers are expected here
    if patched:
        from cw_local import fast_dynamodb, fast_server

        fast_dynamodb.install()
        fast_server.install()
    session = boto3.Session(region_name=REGION, **CREDENTIALS)
    with mock_aws():
        in_process = run(session, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        over_http = run(session, f"http://{host}:{port}")
    finally:
        server.stop()
    return {"mock_aws": in_process, "server": over_http}


if __name__ == "__main__":
    json.dump(main("--patched" in sys.argv), sys.stdout, default=repr)
