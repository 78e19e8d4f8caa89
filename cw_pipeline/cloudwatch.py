"""One generic GetMetricData fetcher over the metric catalog.

The code here sees only query records (a monitored resource and a catalog row); it knows nothing of
particular metrics. It cuts the queries into batches of at most 500 (the API's limit per call),
cuts the time range so that no call can exceed 100,800 datapoints, follows ``NextToken``, gives
each query an index-based id and maps the answers back by id. Queries that come back empty are
simply absent from the result: what "no datapoint" means is decided by the aggregation.

Every answer's ``StatusCode`` is checked. ``PartialData`` means more pages behind ``NextToken``,
which are followed. A query answered ``InternalError`` or ``Forbidden`` (or any status other than
``Complete``), a query missing from the answer, or ``PartialData`` on the last page never becomes
"no datapoint": `fetch` raises `QueryFailed` naming those queries, so the run fails and stores
nothing for its windows. Leaving the values absent instead would turn them into INSUFFICIENT_DATA
evaluations and could notify a false transition; a retry of the run usually succeeds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import pandas as pd

from cw_pipeline.catalog import METRICS, MetricSpec
from cw_pipeline.config import MonitoredResource
from cw_pipeline.windows import WINDOW, WINDOW_SECONDS, as_utc

MAX_QUERIES_PER_CALL = 500
MAX_DATAPOINTS_PER_CALL = 100_800

DATAPOINT_COLUMNS = ("service", "resource", "attribute", "window_start", "value")
COMPLETE = "Complete"
PARTIAL_DATA = "PartialData"
MISSING = "missing from the answer"
NAMED_FAILURES = 10  # how many failed queries the error message lists by name
FETCH_CONCURRENCY = 8  # GetMetricData calls in flight at once; the API allows 50 a second per account and Region


class QueryFailed(RuntimeError):
    """GetMetricData did not answer some queries completely; the message names them and their status."""


@dataclass(frozen=True)
class MetricQuery:
    id: str
    resource: MonitoredResource
    metric: MetricSpec

    @property
    def description(self) -> str:
        """``lambda:orders-handler Errors Sum``: the resource, metric and statistic a person recognises."""
        return f"{self.resource.service.value}:{self.resource.name} {self.metric.metric_name} {self.metric.statistic}"

    def as_request(self) -> dict:
        return {
            "Id": self.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.metric.namespace,
                    "MetricName": self.metric.metric_name,
                    "Dimensions": [{"Name": self.metric.dimension_name, "Value": self.resource.name}],
                },
                "Period": WINDOW_SECONDS,
                "Stat": self.metric.statistic,
            },
            "ReturnData": True,
        }


@dataclass(frozen=True)
class FetchResult:
    datapoints: pd.DataFrame  # one row per (resource, attribute, window) that CloudWatch answered
    queries: int
    calls: int


def build_queries(resources: Sequence[MonitoredResource]) -> list[MetricQuery]:
    """Every catalog row for every monitored resource of its service, with ids ``q0``, ``q1``, ..."""
    pairs = [(resource, spec) for resource in resources for spec in METRICS if spec.service == resource.service]
    return [MetricQuery(f"q{index}", resource, spec) for index, (resource, spec) in enumerate(pairs)]


def time_slices(start: datetime, end: datetime, queries_in_batch: int) -> Iterator[tuple[datetime, datetime]]:
    """Cut ``[start, end)`` into whole windows so that one call returns at most 100,800 datapoints."""
    windows_per_call = max(1, MAX_DATAPOINTS_PER_CALL // max(1, queries_in_batch))
    step = windows_per_call * WINDOW
    cursor = start
    while cursor < end:
        yield cursor, min(cursor + step, end)
        cursor += step


def fetch(client, queries: Sequence[MetricQuery], start: datetime, end: datetime) -> FetchResult:
    """Pull every query over the windows in ``[start, end)`` (both on 5-minute marks).

    Each batch of 500 queries over each time slice is independent of the others: up to `FETCH_CONCURRENCY` of
    them are in flight at once (an estate's 18 calls are ~0.5 s each on AWS), and their answers are put
    together in batch and slice order, as one call after another would have. Raises `QueryFailed` when any
    query is not answered completely (see the module docstring).
    """
    start, end = as_utc(start), as_utc(end)
    pulls = [
        partial(_pull, client, batch, slice_start, slice_end)
        for batch in (
            queries[offset : offset + MAX_QUERIES_PER_CALL] for offset in range(0, len(queries), MAX_QUERIES_PER_CALL)
        )
        for slice_start, slice_end in time_slices(start, end, len(batch))
    ]
    if len(pulls) > 1:
        with ThreadPoolExecutor(max_workers=min(FETCH_CONCURRENCY, len(pulls))) as pool:
            pulled = list(pool.map(lambda pull: pull(), pulls))  # the first error, in call order, is raised
    else:
        pulled = [pull() for pull in pulls]
    rows: list[tuple] = []
    failures: dict[str, str] = {}  # query description -> status
    for pull, (pull_rows, answered, _) in zip(pulls, pulled, strict=True):
        rows.extend(pull_rows)
        for query in pull.args[1]:
            status = answered.get(query.id, MISSING)
            if status != COMPLETE:
                failures.setdefault(query.description, status)
    if failures:
        raise QueryFailed(_failure_message(failures, len(queries), start, end))
    frame = pd.DataFrame(rows, columns=list(DATAPOINT_COLUMNS))
    frame["window_start"] = pd.to_datetime(frame["window_start"], utc=True)
    # A paginated answer can repeat a timestamp; the last word CloudWatch gave wins.
    frame = frame.drop_duplicates(subset=["service", "resource", "attribute", "window_start"], keep="last")
    return FetchResult(frame.reset_index(drop=True), len(queries), sum(calls for _, _, calls in pulled))


def _pull(
    client, batch: Sequence[MetricQuery], start: datetime, end: datetime
) -> tuple[list[tuple], dict[str, str], int]:
    """One batch over one time slice, every page of it: its datapoint rows, the last status each query id was
    given, and the calls made."""
    by_id = {query.id: query for query in batch}
    requests = [query.as_request() for query in batch]
    rows: list[tuple] = []
    statuses: dict[str, str] = {}
    pagination: dict = {}
    calls = 0
    while True:
        response = client.get_metric_data(
            MetricDataQueries=requests, StartTime=start, EndTime=end, ScanBy="TimestampAscending", **pagination
        )
        calls += 1
        for result in response.get("MetricDataResults", []):
            query = by_id.get(result.get("Id"))
            if query is None:
                continue
            statuses[query.id] = result.get("StatusCode", MISSING)
            for timestamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                moment = as_utc(timestamp)
                if value is not None and start <= moment < end:
                    rows.append(
                        (query.resource.service.value, query.resource.name, query.metric.attribute, moment,
                         float(value))
                    )  # fmt: skip
        token = response.get("NextToken")
        if not token:
            return rows, statuses, calls
        pagination = {"NextToken": token}


def _failure_message(failures: dict[str, str], total: int, start: datetime, end: datetime) -> str:
    named = [f"{description} ({status})" for description, status in sorted(failures.items())]
    shown = "; ".join(named[:NAMED_FAILURES]) + (
        f"; and {len(named) - NAMED_FAILURES} more" if len(named) > NAMED_FAILURES else ""
    )
    return (
        f"GetMetricData did not answer {len(failures)} of {total} queries completely from {start.isoformat()} to "
        f"{end.isoformat()}: {shown}. Nothing is stored for these windows (an unanswered query is not zero "
        "traffic); run them again, a retry usually succeeds, and a Forbidden status needs cloudwatch:GetMetricData "
        "on those metrics"
    )


def resources_without_data(resources: Sequence[MonitoredResource], datapoints: pd.DataFrame) -> list[str]:
    """``service:name`` of every resource CloudWatch returned no datapoint for (often a misspelt name)."""
    answered = set(zip(datapoints["service"], datapoints["resource"], strict=True))
    return [f"{r.service.value}:{r.name}" for r in resources if (r.service.value, r.name) not in answered]
