"""GetMetricData calls of an estate in flight together, their answers put together as one call after another would."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from cw_pipeline.catalog import Service
from cw_pipeline.cloudwatch import FETCH_CONCURRENCY, QueryFailed, build_queries, fetch
from cw_pipeline.config import MonitoredResource

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FUNCTIONS = [MonitoredResource(Service.LAMBDA, f"fn-{i:03d}") for i in range(500)]  # 8 statistics: 4,000 queries


def publish_invocations(aws) -> dict[str, float]:
    """One Invocations datapoint in the first window for every 50th function: the 8 batches of 500 queries
    each hold some. Returns function -> value."""
    published = {f"fn-{i:03d}": float(i + 1) for i in range(0, 500, 50)}
    for name, value in published.items():
        aws.put("AWS/Lambda", "FunctionName", name, "Invocations", START + timedelta(minutes=1), [value], "Count")
    return published


def test_the_batches_are_pulled_together_and_answered_in_query_order(aws):
    published = publish_invocations(aws)
    queries = build_queries(FUNCTIONS)
    client = aws.session.client("cloudwatch")
    together = threading.Barrier(FETCH_CONCURRENCY, timeout=60)
    arrived = []

    def arrive(model, **_kwargs) -> None:
        if model.name == "GetMetricData":
            arrived.append(threading.get_ident())
            together.wait()  # broken, and the pull fails, unless all 8 calls are in flight at once

    client.meta.events.register("before-call.cloudwatch", arrive)

    result = fetch(client, queries, START, START + timedelta(minutes=10))

    assert result.calls == len(arrived) == len(queries) // 500 == FETCH_CONCURRENCY
    assert len(set(arrived)) == FETCH_CONCURRENCY
    invocations = result.datapoints[result.datapoints["attribute"] == "invocations"]
    assert dict(zip(invocations["resource"], invocations["value"], strict=True)) == published
    # In the order of the queries (function by function), as sequential calls would give them.
    assert invocations["resource"].tolist() == sorted(published)


def test_a_query_not_answered_in_one_batch_fails_the_pull_naming_it(aws):
    publish_invocations(aws)
    queries = build_queries(FUNCTIONS)
    client = aws.session.client("cloudwatch")
    withheld = queries[3 * 500 + 7]  # in the fourth batch

    def drop(parsed, model, **_kwargs) -> None:
        if model.name == "GetMetricData":
            parsed["MetricDataResults"] = [r for r in parsed["MetricDataResults"] if r["Id"] != withheld.id]

    client.meta.events.register("after-call.cloudwatch.GetMetricData", drop)

    with pytest.raises(QueryFailed, match=rf"did not answer 1 of 4000 queries.*{withheld.resource.name}"):
        fetch(client, queries, START, START + timedelta(minutes=10))
