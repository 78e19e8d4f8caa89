"""Percentile statistics (and a few fixes) for moto's CloudWatch ``GetMetricData``.

moto 5.2 answers ``GetMetricData`` with Sum/Average/Minimum/Maximum/SampleCount only: a percentile
``Stat`` such as ``p95`` yields ``None`` and the request fails. The pipeline asks for p95/p99 of API
latency and Lambda duration, so `install()` replaces two methods of moto's ``CloudWatchBackend``:

``put_metric_data``
    Same validation and storage as moto, plus AWS's size limits (at most 1000 ``MetricData`` items per
    call, at most 150 entries in a ``Values`` array) so that a publisher that breaks them fails here as
    it would on AWS. ``Values=[v...]`` with ``Counts=[c...]`` is stored as one datum holding its
    ``(value, count)`` pairs (moto stores ``c`` copies of every value, which is correct but grows memory
    with the counts). A value with count 3 weighs three samples in every statistic: Sum, SampleCount,
    Average and percentiles.

``get_metric_data``
    ``MetricStat`` queries are answered from `cw_local.metric_index` (namespace, metric name, dimension
    set -> samples sorted by time), so one query costs O(log n + samples in its time range) instead of
    moto's O(periods x all stored datapoints). Metric-math and Metrics-Insights queries keep moto's
    behaviour. Differences from moto:

    * a query with dimensions also filters on namespace (moto ignores the namespace then);
    * ``pNN`` / ``pNN.N`` statistics are computed (definition below);
    * an unsupported statistic (``tm99``, ``IQM``, ...) is refused with ``InvalidParameterValue``
      instead of crashing the response.

    Kept from moto: a query with dimensions matches the metric whose dimension set is exactly the
    query's; a query without dimensions matches every dimension set of the metric (AWS would match only
    the metric with no dimensions); ``Unit`` filters on the published unit; the periods are
    ``[StartTime + k*Period, StartTime + (k+1)*Period)`` and periods with no samples are left out.

Percentile definition (nearest rank on the raw samples)
    Expand every sample by its count and sort the values ascending: ``x[1] <= ... <= x[n]``.
    ``pP = x[max(1, ceil(P * n / 100))]``, with ``P`` taken as the exact decimal written in the stat
    (``p99.9`` is 999/10, never a rounded float). ``p100`` is the maximum, ``p0`` the minimum.
    Only raw samples (``Value`` or ``Values``/``Counts``) have percentiles: a period holding only
    ``StatisticValues`` sets returns no percentile datapoint, as on AWS. With non-integer counts the
    rank generalises to the first value whose cumulative count reaches ``P * n / 100``.

``list_metrics``
    Answered from the same index (`cw_local.metric_index.list_metrics`), with ``RecentlyActive=PT3H``
    honoured (moto ignores it): only metrics published to in the last three hours.

Answers written without moto's serializer walk
    ListMetrics' and GetMetricData's answers are written directly (`cw_local.cloudwatch_answers`).

`install()` patches the classes, so it is effective for ``mock_aws`` and for a
``moto.server.ThreadedMotoServer`` running in the same process, whichever starts first; calling it
again does nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from moto.cloudwatch.exceptions import InvalidParameterValue, ValidationError
from moto.cloudwatch.metric_data_expression_parser import parse_expression
from moto.cloudwatch.models import (
    CloudWatchBackend,
    MetricAggregatedDatum,
    MetricDatum,
    MetricDatumBase,
)
from moto.cloudwatch.responses import CloudWatchResponse

from cw_local import cloudwatch_answers
from cw_local.metric_index import LOCK, MetricIndex, dimension_key, index_of, naive_utc, record_published

MAX_METRIC_DATA_PER_CALL = 1000
MAX_VALUES_PER_DATUM = 150

BASIC_STATISTICS = frozenset({"Sum", "Average", "Minimum", "Maximum", "SampleCount"})
_PERCENTILE = re.compile(r"^p(\d{1,3}(?:\.\d+)?)$")

_MARKER = "_cw_pipeline_percentiles_installed"

_original_put_metric_data = CloudWatchBackend.put_metric_data
_original_get_metric_data = CloudWatchBackend.get_metric_data


class DistributionDatum(MetricAggregatedDatum):
    """One ``Values``/``Counts`` item: raw values, each weighing its count in samples.

    It is also a statistic set (minimum, maximum, sum and sample count over its samples), so moto's own
    GetMetricStatistics keeps working on it; this module additionally knows its raw values for percentiles.
    """

    def __init__(
        self,
        namespace: str,
        name: str,
        samples: list[tuple[float, float]],
        dimensions: list[dict[str, str]],
        timestamp: datetime | None,
        unit: Any = None,
    ):
        super().__init__(
            namespace,
            name,
            min_stat=min(value for value, _ in samples),
            max_stat=max(value for value, _ in samples),
            sample_count=math.fsum(count for _, count in samples),
            sum_stat=math.fsum(value * count for value, count in samples),
            dimensions=dimensions,
            timestamp=timestamp,
            unit=unit,
        )
        self.samples = samples


def install() -> None:
    """Patch moto's CloudWatch backend and ListMetrics response (idempotent; see the module docstring)."""
    with LOCK:
        if getattr(CloudWatchBackend, _MARKER, False):
            return
        CloudWatchBackend.put_metric_data = _put_metric_data
        CloudWatchBackend.get_metric_data = _get_metric_data
        CloudWatchResponse.list_metrics = cloudwatch_answers.list_metrics_response
        CloudWatchResponse.get_metric_data = cloudwatch_answers.get_metric_data_response
        setattr(CloudWatchBackend, _MARKER, True)


def is_installed() -> bool:
    return bool(getattr(CloudWatchBackend, _MARKER, False))


def parse_percentile(stat: str) -> Fraction | None:
    """``"p99.9" -> Fraction(999, 10)``; None when ``stat`` is not a percentile statistic."""
    match = _PERCENTILE.match(stat)
    if not match:
        return None
    percent = Fraction(match.group(1))
    return percent if percent <= 100 else None


def nearest_rank(samples: Iterable[tuple[float, float]], percent: Fraction) -> float | None:
    """The nearest-rank percentile of ``(value, count)`` samples, or None when there are none."""
    ordered = sorted((value, count) for value, count in samples if count > 0)
    if not ordered:
        return None
    total = math.fsum(count for _, count in ordered)
    if float(total).is_integer():
        # Integer counts: exact rational arithmetic, so p95 of 20 samples is rank 19, never 20.
        target: float = max(1, math.ceil(percent * int(total) / 100))
    else:
        target = float(percent) * total / 100
    cumulative = 0.0
    for value, count in ordered:
        cumulative += count
        if cumulative >= target:
            return value
    return ordered[-1][0]


# --- PutMetricData ----------------------------------------------------------------------------------


def _put_metric_data(self: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]) -> None:
    if len(metric_data) > MAX_METRIC_DATA_PER_CALL:
        raise InvalidParameterValue(
            f"The collection MetricData must not have a size greater than {MAX_METRIC_DATA_PER_CALL}."
        )
    for position, metric in enumerate(metric_data, start=1):
        if len(metric.get("Values") or ()) > MAX_VALUES_PER_DATUM:
            raise InvalidParameterValue(
                f"The collection MetricData.member.{position}.Values must not have a size greater "
                f"than {MAX_VALUES_PER_DATUM}."
            )
        self._validate_parameters_put_metric_data(metric, position)

    stored: list[MetricDatumBase] = []
    for metric in metric_data:
        if not metric.get("Values"):
            # Single values and statistic sets: moto stores them correctly already.
            continue
        values = [float(v) for v in metric["Values"]]
        counts = [float(c) for c in (metric.get("Counts") or [1.0] * len(values))]
        # A value published zero times is no sample.
        samples = [(value, count) for value, count in zip(values, counts, strict=True) if count > 0]
        if samples:
            stored.append(
                DistributionDatum(
                    namespace,
                    metric["MetricName"],
                    samples,
                    metric.get("Dimensions") or [],
                    metric.get("Timestamp"),
                    metric.get("Unit"),
                )
            )
    others = [metric for metric in metric_data if not metric.get("Values")]
    with LOCK:
        if others:
            _original_put_metric_data(self, namespace, others)
        self.metric_data.extend(stored)
    record_published(self, namespace, metric_data)


# --- GetMetricData ----------------------------------------------------------------------------------


def _get_metric_data(
    self: CloudWatchBackend,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    start = naive_utc(start_time).replace(microsecond=0)
    end = naive_utc(end_time).replace(microsecond=0)
    if start > end:
        raise ValidationError("The parameter EndTime must be greater than StartTime.")
    if start == end:
        raise ValidationError("The parameter StartTime must not equal parameter EndTime.")

    for query in queries:
        if "MetricStat" in query:
            _validate_stat(query["MetricStat"]["Stat"])

    stat_results: dict[str, dict[str, Any]] = {}
    with LOCK:
        index = index_of(self)
        # Metrics from moto's built-in providers are not in metric_data; they are few, scan them.
        provided = self.aws_metric_data
        for query in queries:
            if "MetricStat" in query:
                stat_results[query["Id"]] = _answer_stat_query(index, provided, query, start, end, scan_by)

    insights = [q for q in queries if "Expression" in q and q["Expression"].startswith("SELECT")]
    insight_results = (
        {r["id"]: r for r in _original_get_metric_data(self, insights, start_time, end_time, scan_by)}
        if insights
        else {}
    )

    results: list[dict[str, Any]] = []
    for query in queries:
        if "MetricStat" in query:
            if query.get("ReturnData", True):
                results.append(stat_results[query["Id"]])
        elif query["Id"] in insight_results:
            results.append(insight_results[query["Id"]])
        elif "Expression" in query:
            # moto's metric math: a bare query id copies that query's result, anything else is empty.
            values, timestamps = parse_expression(query["Expression"], list(stat_results.values()))
            results.append(_result(query["Id"], query.get("Label") or query["Id"], values, timestamps))
    return results


def _validate_stat(stat: str) -> None:
    if stat in BASIC_STATISTICS or parse_percentile(stat) is not None:
        return
    raise InvalidParameterValue(
        f"The statistic {stat!r} is not supported by the local emulator (moto with "
        "cw_local.percentiles): use Sum, Average, Minimum, Maximum, SampleCount or pNN / pNN.N."
    )


def _answer_stat_query(
    index: MetricIndex,
    provided: list[MetricDatumBase],
    query: dict[str, Any],
    start: datetime,
    end: datetime,
    scan_by: str,
) -> dict[str, Any]:
    metric_stat = query["MetricStat"]
    metric = metric_stat["Metric"]
    namespace, name = metric["Namespace"], metric["MetricName"]
    stat = metric_stat["Stat"]
    unit = metric_stat.get("Unit")
    period = timedelta(seconds=int(metric_stat["Period"]))
    wanted: frozenset[tuple[str, str]] | None = (
        frozenset((d["Name"], d["Value"]) for d in metric["Dimensions"]) if metric.get("Dimensions") else None
    )

    by_dimensions = index.series.get((namespace, name), {})
    series = (
        list(by_dimensions.values()) if wanted is None else ([by_dimensions[wanted]] if wanted in by_dimensions else [])
    )
    buckets: dict[int, list[MetricDatumBase]] = {}
    for one in series:
        for timestamp, datum in one.between(start, end):
            if unit and datum.unit != unit:
                continue
            buckets.setdefault((timestamp - start) // period, []).append(datum)
    for datum in provided:
        timestamp = naive_utc(datum.timestamp)
        if (
            datum.namespace == namespace
            and datum.name == name
            and (wanted is None or dimension_key(datum) == wanted)
            and (not unit or datum.unit == unit)
            and start <= timestamp < end
        ):
            buckets.setdefault((timestamp - start) // period, []).append(datum)

    timestamps: list[datetime] = []
    values: list[float] = []
    for number in sorted(buckets):
        value = _statistic(buckets[number], stat)
        if value is not None:
            timestamps.append(start + number * period)
            values.append(value)
    if scan_by == "TimestampDescending":
        timestamps.reverse()
        values.reverse()
    return _result(query["Id"], query.get("Label") or f"{name} {stat}", values, timestamps)


def _statistic(data: list[MetricDatumBase], stat: str) -> float | None:
    """One statistic over the datapoints of one period; None when the period has no value for it."""
    raw: list[tuple[float, float]] = []  # (value, count) of every raw sample
    sets: list[MetricAggregatedDatum] = []  # statistic sets published without raw values
    for datum in data:
        if isinstance(datum, DistributionDatum):
            raw.extend(datum.samples)
        elif isinstance(datum, MetricDatum):
            raw.append((float(datum.value), 1.0))
        elif isinstance(datum, MetricAggregatedDatum):
            sets.append(datum)

    percent = parse_percentile(stat)
    if percent is not None:
        return nearest_rank(raw, percent)
    count = math.fsum([c for _, c in raw] + [float(s.sample_count) for s in sets])
    total = math.fsum([v * c for v, c in raw] + [float(s.sum) for s in sets])
    if stat == "SampleCount":
        return count
    if stat == "Sum":
        return total
    if stat == "Average":
        return total / count if count else None
    if stat == "Minimum":
        candidates = [v for v, _ in raw] + [float(s.min) for s in sets]
        return min(candidates) if candidates else None
    if stat == "Maximum":
        candidates = [v for v, _ in raw] + [float(s.max) for s in sets]
        return max(candidates) if candidates else None
    raise AssertionError(f"unvalidated statistic {stat!r}")


def _result(query_id: str, label: str, values: list, timestamps: list[datetime]) -> dict[str, Any]:
    return {
        "id": query_id,
        "label": label,
        "values": values,
        "timestamps": timestamps,
        "status_code": "Complete",
    }
