"""An index over the emulator's stored CloudWatch datapoints, so that queries never scan them all.

moto keeps every datapoint in one list (``CloudWatchBackend.metric_data``) and scans it for every
GetMetricData query and period, and for ListMetrics it compares every datapoint with every metric
already found (quadratic). On an estate of 1,000 functions that is the emulator's time, not the
client's. This index groups the datapoints by (namespace, metric name, dimension set), each series
sorted by time, and records when each series was last published to, which is what ListMetrics'
``RecentlyActive=PT3H`` filters on (AWS counts publication time, not datapoint timestamps).

`cw_local.percentiles` answers GetMetricData from it and `list_metrics` answers ListMetrics.
"""

from __future__ import annotations

import bisect
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.exceptions import InvalidParameterValue
from moto.cloudwatch.models import CloudWatchBackend, MetricDatumBase

# ThreadedMotoServer serves requests on several threads; the index is shared per backend.
LOCK = threading.RLock()
PAGE_SIZE = 500  # ListMetrics answers at most 500 metrics per page
RECENTLY_ACTIVE = {"PT3H": 3 * 3600.0}  # the only value AWS accepts

_INDEX_ATTRIBUTE = "_cw_local_metric_index"
DimensionKey = frozenset[tuple[str, str]]


@dataclass
class Series:
    """Samples of one (namespace, metric, dimension set), kept sorted by timestamp for bisect."""

    timestamps: list[datetime] = field(default_factory=list)
    data: list[MetricDatumBase] = field(default_factory=list)

    def add(self, timestamp: datetime, datum: MetricDatumBase) -> None:
        if not self.timestamps or timestamp >= self.timestamps[-1]:
            self.timestamps.append(timestamp)
            self.data.append(datum)
        else:  # late or back-filled data: rare, an O(n) insert is fine
            position = bisect.bisect_right(self.timestamps, timestamp)
            self.timestamps.insert(position, timestamp)
            self.data.insert(position, datum)

    def between(self, start: datetime, end: datetime) -> Iterable[tuple[datetime, MetricDatumBase]]:
        low = bisect.bisect_left(self.timestamps, start)
        high = bisect.bisect_left(self.timestamps, end)
        return zip(self.timestamps[low:high], self.data[low:high], strict=True)


@dataclass
class MetricIndex:
    source: list[MetricDatumBase]  # the backend's metric_data list this index was built from
    indexed: int = 0
    series: dict[tuple[str, str], dict[DimensionKey, Series]] = field(default_factory=dict)
    published: dict[tuple[str, str, DimensionKey], float] = field(default_factory=dict)  # epoch seconds
    pages: dict[str, list[MetricDatumBase]] = field(default_factory=dict)  # ListMetrics NextToken -> rest

    def catch_up(self) -> None:
        for datum in self.source[self.indexed :]:
            by_dimensions = self.series.setdefault((datum.namespace, datum.name), {})
            by_dimensions.setdefault(dimension_key(datum), Series()).add(naive_utc(datum.timestamp), datum)
        self.indexed = len(self.source)


def index_of(backend: CloudWatchBackend) -> MetricIndex:
    """The backend's index, brought up to date (call with `LOCK` held)."""
    index: MetricIndex | None = backend.__dict__.get(_INDEX_ATTRIBUTE)
    # metric_data is append-only except when something replaces or truncates it: rebuild then.
    if index is None or index.source is not backend.metric_data or index.indexed > len(backend.metric_data):
        published = index.published if index is not None else {}
        index = MetricIndex(source=backend.metric_data, published=published)
        backend.__dict__[_INDEX_ATTRIBUTE] = index
    index.catch_up()
    return index


def record_published(backend: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]) -> None:
    """Remember that these metrics were published now (PutMetricData calls this)."""
    now = time.time()
    with LOCK:
        index = index_of(backend)
        for metric in metric_data:
            key = frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions") or [])
            index.published[(namespace, metric["MetricName"], key)] = now


def dimension_key(datum: MetricDatumBase) -> DimensionKey:
    return frozenset((d.name, d.value) for d in datum.dimensions)


def naive_utc(moment: datetime) -> datetime:
    # moto stores and compares naive UTC datetimes; aware ones are converted so the two never mix.
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def list_metrics(
    backend: CloudWatchBackend,
    next_token: str | None,
    namespace: str | None,
    metric_name: str | None,
    dimensions: list[dict[str, str]],
    recently_active: str | None,
) -> tuple[str | None, list[MetricDatumBase]]:
    """ListMetrics from the index: one representative datum per metric, 500 per page.

    A dimension filter with a value matches metrics having that dimension and value; without a value,
    metrics having that dimension; other dimensions may be present (as on AWS).
    """
    with LOCK:
        index = index_of(backend)
        if next_token:
            if next_token not in index.pages:
                raise InvalidParameterValue("Request parameter NextToken is invalid")
            return _page(index, index.pages.pop(next_token))
        if recently_active is not None and recently_active not in RECENTLY_ACTIVE:
            raise InvalidParameterValue(
                f"The value {recently_active!r} for parameter RecentlyActive is not valid; the only valid value is PT3H"
            )
        since = time.time() - RECENTLY_ACTIVE[recently_active] if recently_active else None
        wanted = [(d["Name"], d.get("Value")) for d in dimensions or []]
        found: list[MetricDatumBase] = []
        for (series_namespace, name), by_dimensions in index.series.items():
            if (namespace and series_namespace != namespace) or (metric_name and name != metric_name):
                continue
            for key, series in by_dimensions.items():
                if not _has_dimensions(key, wanted) or not series.data:
                    continue
                if since is not None and index.published.get((series_namespace, name, key), 0.0) < since:
                    continue
                found.append(series.data[-1])
        # Metrics from moto's built-in providers are not in metric_data; they are few and always active.
        for datum in backend.aws_metric_data:
            if datum.filter(namespace, metric_name, dimensions or [], already_present_metrics=found):
                found.append(datum)
        return _page(index, found)


def _has_dimensions(key: DimensionKey, wanted: list[tuple[str, str | None]]) -> bool:
    names = {name for name, _ in key}
    return all((name, value) in key if value is not None else name in names for name, value in wanted)


def _page(index: MetricIndex, metrics: list[MetricDatumBase]) -> tuple[str | None, list[MetricDatumBase]]:
    if len(metrics) <= PAGE_SIZE:
        return None, metrics
    token = str(uuid.uuid4())
    index.pages[token] = metrics[PAGE_SIZE:]
    return token, metrics[:PAGE_SIZE]
