"""Plain writes in concurrent batches of 25, each with its own bounded retry of ``UnprocessedItems``, and the
history read with its per-resource Queries in flight together. Faults are injected with botocore hooks on the
session the pipeline's clients come from: a withheld item is taken out of the request before it is sent (so
DynamoDB really does not write it) and handed back in the answer's ``UnprocessedItems``, as a throttled table
does."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from botocore.awsrequest import AWSResponse
from scale_support import CallCounter

from cw_pipeline.catalog import Service
from cw_pipeline.config import MonitoredResource
from cw_pipeline.defs import aws_clients
from cw_pipeline.defs.metric_store import READ_CONCURRENCY, MetricStore
from cw_pipeline.table_writes import WRITE_CONCURRENCY, UnprocessedItemsError

SK = "2026-11-20T12:00:00Z"


def function_item(i: int) -> dict:
    return {"pk": f"lambda#fn-{i:04d}", "sk": SK, "resource": f"fn-{i:04d}", "invocations": float(i),
            "duration_avg_ms": i + 0.25}  # fmt: skip


class Withholding:
    """Takes an item out of a BatchWriteItem request while ``withhold(pk, times already sent)`` says so, and
    hands it back as unprocessed; a request whose every item is withheld is answered without being sent.
    Records every request's partition keys (calls come from several threads)."""

    def __init__(self, withhold) -> None:
        self.withhold = withhold
        self.sent: Counter = Counter()  # pk -> requests that carried it
        self.requests: list[list[str]] = []
        self._lock = threading.Lock()

    def before_parameter_build(self, params, model, context, **_kwargs) -> None:
        if model.name != "BatchWriteItem":
            return
        table, requests = next(iter(params["RequestItems"].items()))
        kept, withheld = [], []
        with self._lock:
            self.requests.append([r["PutRequest"]["Item"]["pk"]["S"] for r in requests])
            for request in requests:
                pk = request["PutRequest"]["Item"]["pk"]["S"]
                (withheld if self.withhold(pk, self.sent[pk]) else kept).append(request)
                self.sent[pk] += 1
        context["withheld"] = (table, withheld)
        context["nothing_sent"] = not kept  # a request without items is invalid: `answer` replies unsent
        if kept:
            params["RequestItems"][table] = kept

    def answer(self, context, **_kwargs) -> tuple[AWSResponse, dict] | None:
        if not context.get("nothing_sent"):
            return None
        return AWSResponse("", 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def after_call(self, parsed, context, **_kwargs) -> None:
        table, withheld = context["withheld"]
        if withheld:
            parsed["UnprocessedItems"] = {table: withheld}


def withholding(withhold) -> tuple[Withholding, CallCounter]:
    hook, counter = Withholding(withhold), CallCounter()
    events = aws_clients.session(None).events
    events.register("before-call.dynamodb", counter)
    # After boto3 has turned the items into DynamoDB JSON (its handler is on the service's event), and on the
    # answer before boto3 turns it back: the withheld requests go back as the wire carried them.
    events.register_last("before-parameter-build.dynamodb", hook.before_parameter_build)
    events.register_first("after-call.dynamodb.BatchWriteItem", hook.after_call)
    events.register_last("before-call.dynamodb", hook.answer)  # after the counter: such a call counts too
    return hook, counter


def stored(aws) -> dict[str, dict]:
    return {item["pk"]: item for item in aws.items()}


def test_many_batches_with_unprocessed_items_write_every_item_once_and_count_every_call(aws):
    items = [function_item(i) for i in range(1000)]
    once = {f"lambda#fn-{i:04d}" for i in range(7, 1000, 100)}  # withheld the first time it is sent
    twice = {f"lambda#fn-{i:04d}" for i in range(7, 1000, 200)}  # and the second
    hook, counter = withholding(lambda pk, sent: (sent == 0 and pk in once) or (sent == 1 and pk in twice))

    calls = MetricStore(table_name=aws.resources.table_name).write(items)

    # 40 batches of 25 in the order given; a batch is sent again as long as one of its items is withheld.
    batch_of = {item["pk"]: i // 25 for i, item in enumerate(items)}
    expected = 40 + len({batch_of[pk] for pk in once}) + len({batch_of[pk] for pk in twice})
    assert expected == 40 + 10 + 5
    assert calls == counter.calls["BatchWriteItem"] == len(hook.requests) == expected
    # Every item sent until written, and never once more: 1 request, 2 or 3 for the withheld ones.
    assert hook.sent == {item["pk"]: 1 + (item["pk"] in once) + (item["pk"] in twice) for item in items}
    # A resent request carries only what was handed back.
    assert sorted(pks for pks in hook.requests if len(pks) < 25) == sorted(
        [[pk] for pk in once] + [[pk] for pk in twice]
    )
    assert stored(aws) == {item["pk"]: item for item in items}


def test_batches_are_in_flight_together_never_more_than_the_bound(aws):
    # The first 8 calls wait for each other: the write fails (a broken barrier) unless 8 are in flight at once,
    # and a ninth in flight meanwhile would show in the most counted.
    together = threading.Barrier(WRITE_CONCURRENCY, timeout=60)
    count = {"arrived": 0, "in_flight": 0, "most": 0}
    lock = threading.Lock()

    def arrive(model, **_kwargs) -> None:
        if model.name != "BatchWriteItem":
            return
        with lock:
            count["arrived"] += 1
            count["in_flight"] += 1
            count["most"] = max(count["most"], count["in_flight"])
            first_round = count["arrived"] <= WRITE_CONCURRENCY
        if first_round:
            together.wait()

    def leave(model, **_kwargs) -> None:
        if model.name == "BatchWriteItem":
            with lock:
                count["in_flight"] -= 1

    events = aws_clients.session(None).events
    events.register("before-call.dynamodb", arrive)
    events.register("after-call.dynamodb", leave)
    items = [function_item(i) for i in range(25 * 20)]

    calls = MetricStore(table_name=aws.resources.table_name).write(items)

    assert calls == 20
    assert count["most"] == WRITE_CONCURRENCY == 8
    assert stored(aws) == {item["pk"]: item for item in items}


def test_batches_of_the_same_partitions_are_in_flight_together_and_every_item_is_stored(aws):
    """DynamoDB needs no order between batches that write to the same partition, and neither does the emulator,
    which creates partitions under a lock (`cw_local.fast_dynamodb`): such batches are written at once."""
    # 12 windows of 40 resources, window by window: 480 items in 20 batches, each sharing partitions with the
    # batches next to it. The 8 threads' first batches wait for each other, so they are in flight together.
    items = [{"pk": f"lambda#fn-{r:02d}", "sk": f"2026-11-20T12:{5 * w:02d}:00Z", "errors": float(w)}
             for w in range(12) for r in range(40)]  # fmt: skip
    together = threading.Barrier(WRITE_CONCURRENCY, timeout=60)
    first_round: list[set[str]] = []
    lock = threading.Lock()

    def arrive(model, params, **_kwargs) -> None:
        if model.name != "BatchWriteItem":
            return
        requests = next(iter(json.loads(params["body"])["RequestItems"].values()))
        with lock:
            if len(first_round) == WRITE_CONCURRENCY:
                return
            first_round.append({r["PutRequest"]["Item"]["pk"]["S"] for r in requests})
        together.wait()

    aws_clients.session(None).events.register("before-call.dynamodb", arrive)

    calls = MetricStore(table_name=aws.resources.table_name).write(items)

    assert calls == 480 // 25 + 1
    shared = [a & b for i, a in enumerate(first_round) for b in first_round[i + 1 :] if a & b]
    assert shared  # batches of the same partitions were in flight at the same time
    table = {(item["pk"], item["sk"]): item for item in aws.items()}
    assert table == {(item["pk"], item["sk"]): item for item in items}


def test_items_unprocessed_after_the_budget_fail_naming_the_table_and_what_is_left(aws):
    items = [function_item(i) for i in range(250)]
    stuck = "lambda#fn-0130"  # in the sixth of ten batches
    hook, _ = withholding(lambda pk, sent: pk == stuck)
    store = MetricStore(table_name=aws.resources.table_name, write_attempts=3)

    with pytest.raises(UnprocessedItemsError) as raised:
        store.write(items)

    message = str(raised.value)
    assert (
        f"DynamoDB BatchWriteItem on table {aws.resources.table_name}: 1 item(s) still unprocessed after 3 attempts"
    ) in message
    assert message.endswith("The run fails; running it again rewrites the same keys")
    assert hook.sent[stuck] == 3  # its batch's budget, then no more
    # Batches not started when it failed are not sent; what the message says was written is what the table holds.
    written = int(re.search(r"; (\d+) of 250 item\(s\) were written", message).group(1))
    table = stored(aws)
    assert stuck not in table and len(table) == written
    assert all(table[pk] == item for item in items if (pk := item["pk"]) in table)
    if written < 249:
        assert f"{249 - written} more not sent once a batch had failed" in message

    # Running it again without the fault writes every item.
    aws_clients.forget()
    MetricStore(table_name=aws.resources.table_name).write(items)
    assert stored(aws) == {item["pk"]: item for item in items}


def test_the_history_is_read_with_the_queries_in_flight_together_in_resource_order(aws):
    resources = [MonitoredResource(Service.LAMBDA, f"fn-{i:02d}") for i in range(20)]
    start = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    windows = [start + timedelta(minutes=5 * w) for w in range(3)]
    items = [
        {"pk": r.pk, "sk": f"{w:%Y-%m-%dT%H:%M:%SZ}", "service": "lambda", "resource": r.name,
         "window_start": f"{w:%Y-%m-%dT%H:%M:%SZ}", "invocations": float(10 * i + n), "errors": float(n)}
        for i, r in enumerate(resources) for n, w in enumerate(windows)
    ]  # fmt: skip
    with aws.session.resource("dynamodb").Table(aws.resources.table_name).batch_writer() as batch:
        for item in items:
            batch.put_item(Item={k: int(v) if isinstance(v, float) else v for k, v in item.items()})
    together = threading.Barrier(READ_CONCURRENCY, timeout=60)
    queried: list[bytes] = []
    lock = threading.Lock()

    def arrive(model, params, **_kwargs) -> None:
        if model.name != "Query":
            return
        with lock:
            queried.append(params["body"])
            first_round = len(queried) <= READ_CONCURRENCY
        if first_round:
            together.wait()  # broken, and the read fails, unless 8 Queries are in flight at once

    aws_clients.session(None).events.register("before-call.dynamodb", arrive)

    history = MetricStore(table_name=aws.resources.table_name).read_aggregates(resources, windows[0], windows[-1])

    assert len(queried) == len(resources)
    got = history[["resource", "window_start", "invocations", "errors"]]
    expected = pd.DataFrame(
        {
            "resource": [r.name for r in resources for _ in windows],
            "window_start": pd.to_datetime([w for _ in resources for w in windows], utc=True),
            "invocations": [float(10 * i + n) for i in range(len(resources)) for n in range(len(windows))],
            "errors": [float(n) for _ in resources for n in range(len(windows))],
        }
    )
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
