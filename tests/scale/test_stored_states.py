"""Stored evaluations read in bulk: BatchGetItem by 100 keys, a Query for long partitions, ``UnprocessedKeys``
retried within a budget. Faults are injected with botocore hooks on the session the pipeline's clients come from."""

from __future__ import annotations

import math
import threading
from decimal import Decimal

import pytest
from scale_support import CallCounter

from cw_pipeline.defs import aws_clients
from cw_pipeline.defs.metric_store import BATCH_GET_ATTEMPTS, MetricStore
from cw_pipeline.defs.resources import AwsCallError


def store_for(aws) -> MetricStore:
    return MetricStore(table_name=aws.resources.table_name)


def put_items(aws, items: list[dict]) -> None:
    with aws.session.resource("dynamodb").Table(aws.resources.table_name).batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)


def evaluation(pk: str, sk: str, state: str, value: str) -> dict:
    return {"pk": pk, "sk": sk, "state": state, "previous_state": "OK", "notified": False, "value": Decimal(value)}


def hooked(event: str, handler) -> CallCounter:
    """Register ``handler`` and a call counter on the session every pipeline client is built from."""
    counter = CallCounter()
    events = aws_clients.session(None).events
    events.register("before-call.dynamodb", counter)
    if handler is not None:
        events.register(event, handler)
    return counter


def test_250_partitions_are_read_100_keys_a_call(aws):
    stored = [evaluation(f"alert#lambda_errors#fn-{i:03d}", "2026-11-20T12:00:00Z", "OK", f"{i}.5") for i in range(250)]
    put_items(aws, stored)
    absent = [(f"alert#lambda_errors#fn-{i:03d}", "2026-11-20T12:05:00Z") for i in range(30)]
    counter = hooked("", None)

    read = store_for(aws).read_items([(i["pk"], i["sk"]) for i in stored] + absent)

    assert counter.calls == {"BatchGetItem": math.ceil(280 / 100)}
    assert read.calls == 3
    assert len(read.items) == 250  # the absent keys are simply not there
    assert read.items[("alert#lambda_errors#fn-007", "2026-11-20T12:00:00Z")] == {
        "pk": "alert#lambda_errors#fn-007", "sk": "2026-11-20T12:00:00Z", "state": "OK", "previous_state": "OK",
        "notified": False, "value": 7.5,
    }  # fmt: skip


def test_a_partition_with_100_keys_or_more_is_one_query_the_rest_are_batched(aws):
    long_pk = "alert#rds_cpu_avg#db-1"
    windows = [f"2026-11-20T{h:02d}:{m:02d}:00Z" for h in range(10, 20) for m in range(0, 60, 5)]  # 120 windows
    put_items(aws, [evaluation(long_pk, sk, "ALARM", "91") for sk in windows])
    short = [evaluation(f"alert#rds_cpu_avg#db-{i}", windows[0], "OK", "10") for i in range(2, 52)]
    put_items(aws, short)
    put_items(aws, [evaluation(long_pk, "2026-11-20T09:55:00Z", "OK", "1")])  # outside the wanted range
    counter = hooked("", None)

    read = store_for(aws).read_items([(long_pk, sk) for sk in windows] + [(i["pk"], i["sk"]) for i in short])

    assert counter.calls == {"Query": 1, "BatchGetItem": 1}
    assert len(read.items) == 120 + 50
    assert read.items[(long_pk, windows[-1])]["value"] == 91.0
    assert (long_pk, "2026-11-20T09:55:00Z") not in read.items


def test_unprocessed_keys_are_asked_again_until_all_are_read(aws):
    stored = [evaluation(f"alert#api_error_rate#api-{i:03d}", "2026-11-20T12:00:00Z", "OK", "1") for i in range(150)]
    put_items(aws, stored)
    withheld = {"calls": 0}
    lock = threading.Lock()

    def throttle_first_two_answers(parsed, **_kwargs) -> None:
        # DynamoDB under load answers part of a batch and returns the rest as UnprocessedKeys.
        with lock:
            withheld["calls"] += 1
            if withheld["calls"] > 2:
                return
        answered = next(iter(parsed["Responses"].values()))
        table = next(iter(parsed["Responses"]))
        kept, unprocessed = answered[: len(answered) // 2], answered[len(answered) // 2 :]
        parsed["Responses"][table] = kept
        parsed["UnprocessedKeys"] = {table: {"Keys": [{"pk": item["pk"], "sk": item["sk"]} for item in unprocessed]}}

    counter = hooked("after-call.dynamodb.BatchGetItem", throttle_first_two_answers)

    read = store_for(aws).read_items([(i["pk"], i["sk"]) for i in stored])

    assert len(read.items) == 150
    assert {pk for pk, _ in read.items} == {i["pk"] for i in stored}
    # 2 batches (100 + 50 keys), each answered by halves once: 2 first calls + 2 retries.
    assert counter.calls == {"BatchGetItem": 4}
    assert read.calls == 4


def test_keys_still_unprocessed_after_the_budget_fail_naming_the_table(aws):
    put_items(aws, [evaluation("alert#lambda_errors#fn-1", "2026-11-20T12:00:00Z", "OK", "1")])

    def never_answer(parsed, **_kwargs) -> None:
        table = next(iter(parsed["Responses"]))
        answered = parsed["Responses"][table]
        parsed["Responses"][table] = []
        parsed["UnprocessedKeys"] = {table: {"Keys": [{"pk": i["pk"], "sk": i["sk"]} for i in answered]}}

    counter = hooked("after-call.dynamodb.BatchGetItem", never_answer)

    with pytest.raises(AwsCallError, match=f"BatchGetItem on table {aws.resources.table_name} failed: 1 of 1 keys"):
        store_for(aws).read_items([("alert#lambda_errors#fn-1", "2026-11-20T12:00:00Z")])
    assert counter.calls == {"BatchGetItem": BATCH_GET_ATTEMPTS}
