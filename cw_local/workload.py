"""A synthetic, deterministic workload: the CloudWatch datapoints AWS would publish for the stack.

`generate` produces one datapoint per minute for every metric in `cw_pipeline.catalog.METRICS`, with
the namespaces, metric names, dimensions and units AWS uses (RDS read/write latency in seconds), and
`publish` writes them with PutMetricData. Request-level metrics carry their raw per-request samples as
``Values``/``Counts`` (AWS publishes distributions that way), so Sum, SampleCount, Average and the
percentiles of a 5-minute window are all meaningful.

The model is one request stream shared by the three services:

* API requests per minute are Poisson around ``daily_interactions / 1440`` shaped by a daily sinusoid
  (trough 04:00 UTC, peak 16:00 UTC, +-50 %): a full day totals ``daily_interactions`` on average.
* Every request invokes the Lambda once (Invocations == Count). Lambda ``Errors`` are the requests
  answered 5XX; 4XX are client errors the function handles (about 1 %).
* Per request: Lambda Duration, IntegrationLatency = Duration + network, Latency = IntegrationLatency
  + gateway overhead (milliseconds). RDS gauges are one value per minute that follows the request rate.

An `Incident` (database saturation) makes, for every minute inside it, Lambda Duration average ~4 s,
API Latency accordingly, ~15 % of requests 5XX, DB CPU ~90 % and ~130 connections; everything returns to
the baseline at its end. With the default 100k interactions/day every 5-minute window fully inside the
incident breaches all the rules of `cw_pipeline.thresholds.RULES`, and windows outside it breach none.

Determinism: each minute draws from its own generator seeded by ``(seed, minute since epoch)``, so
the same seed gives the same data, and generating ``[a, c)`` equals generating ``[a, b)`` then
``[b, c)``. Nothing reads the clock: the caller passes the time range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import numpy as np

from cw_local.metric_data import metric_data
from cw_pipeline import catalog
from cw_pipeline.catalog import METRICS, SERVICES, MetricSpec, Service
from cw_pipeline.config import Settings

MINUTE = timedelta(minutes=1)
DEFAULT_DAILY_INTERACTIONS = 100_000

# PutMetricData limits (AWS): items per call, entries per Values array, and the request payload (1 MB);
# the payload is kept well under the limit by an estimate of each item's encoded size.
MAX_ITEMS_PER_CALL = 1000
PAYLOAD_BUDGET_BYTES = 600_000
_ITEM_OVERHEAD_BYTES = 400
_VALUE_BYTES = 100  # one Values entry and its Counts entry, query-encoded

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UnmodelledMetricError(LookupError):
    """A catalog row names a metric this generator cannot produce."""


@dataclass(frozen=True)
class Incident:
    """A database-saturation incident over ``[start, start + duration)``."""

    start: datetime
    duration: timedelta = timedelta(minutes=15)

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def covers(self, minute: datetime) -> bool:
        return self.start <= minute < self.end


@dataclass(frozen=True)
class Resources:
    """The monitored stack: for each service of `cw_pipeline.catalog.SERVICES`, the dimension value of its
    one resource (one API, its Lambda, its database)."""

    names: Mapping[Service, str]

    def __post_init__(self) -> None:
        if missing := [service.value for service in SERVICES if not self.names.get(service)]:
            raise ValueError(
                f"no resource named for {', '.join(missing)}; expected one for each of {', '.join(SERVICES)}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Resources:
        """The first configured resource of each service (by default ``cw-analytics-{env}-...``)."""
        first: dict[Service, str] = {}
        for resource in settings.resources:
            first.setdefault(resource.service, resource.name)
        return cls(first)

    def name_for(self, service: Service) -> str:
        return self.names[service]


@dataclass(frozen=True)
class Datapoint:
    """One metric's data for one minute, as published: raw ``values`` each seen ``counts`` times."""

    service: Service
    metric_name: str
    resource: str  # the value of the service's dimension
    timestamp: datetime  # the minute's start, UTC
    unit: str  # the CloudWatch unit it is published with
    values: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def namespace(self) -> str:
        return SERVICES[self.service].namespace

    @property
    def dimensions(self) -> list[dict[str, str]]:
        return [{"Name": SERVICES[self.service].dimension_name, "Value": self.resource}]

    def samples(self) -> list[float]:
        """Every sample, each value repeated by its count."""
        return [value for value, count in zip(self.values, self.counts, strict=True) for _ in range(int(count))]

    def metric_data(self) -> list[dict[str, Any]]:
        return metric_data(
            self.service, self.metric_name, self.resource, self.timestamp, self.unit, self.values, self.counts
        )


@dataclass(frozen=True)
class Workload:
    start: datetime
    end: datetime
    seed: int
    incident: Incident | None
    resources: Resources
    datapoints: tuple[Datapoint, ...] = field(repr=False)

    def series(self, service: Service, metric_name: str) -> tuple[Datapoint, ...]:
        return tuple(d for d in self.datapoints if d.service == service and d.metric_name == metric_name)

    def samples(self, service: Service, metric_name: str, start: datetime, end: datetime) -> list[float]:
        """The raw samples of one metric published for minutes in ``[start, end)``."""
        return [
            sample
            for datapoint in self.series(service, metric_name)
            if start <= datapoint.timestamp < end
            for sample in datapoint.samples()
        ]

    def expected_statistic(
        self, service: Service, metric_name: str, statistic: str, start: datetime, end: datetime
    ) -> float | None:
        """What CloudWatch should answer for ``statistic`` over ``[start, end)``; None when no data.

        Percentiles use nearest rank on the raw samples (the definition of
        `cw_local.percentiles`), computed here on its own for e2e tests.
        """
        samples = sorted(self.samples(service, metric_name, start, end))
        if not samples:
            return None
        if statistic == "Sum":
            return math.fsum(samples)
        if statistic == "SampleCount":
            return float(len(samples))
        if statistic == "Average":
            return math.fsum(samples) / len(samples)
        if statistic == "Minimum":
            return samples[0]
        if statistic == "Maximum":
            return samples[-1]
        if statistic.startswith("p"):
            rank = max(1, math.ceil(Fraction(statistic[1:]) * len(samples) / 100))
            return samples[rank - 1]
        raise ValueError(f"unknown statistic {statistic!r}")

    def minutes(self) -> Iterator[datetime]:
        minute = self.start
        while minute < self.end:
            yield minute
            minute += MINUTE


@dataclass(frozen=True)
class PublishReport:
    calls: int
    metric_data_items: int
    datapoints: int


# --- the per-minute model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Minute:
    """Everything that happened in one minute; the metric models read from it."""

    requests: int
    errors_4xx: int
    errors_5xx: int
    throttles: int
    duration_ms: np.ndarray
    integration_latency_ms: np.ndarray
    latency_ms: np.ndarray
    concurrent_executions: float
    cpu_pct: float
    connections: float
    read_latency_s: float
    write_latency_s: float
    read_throughput_bps: float
    write_throughput_bps: float
    read_iops: float
    write_iops: float
    free_storage_bytes: float


def _daily_factor(minute: datetime) -> float:
    hours = minute.hour + minute.minute / 60
    return 1.0 + 0.5 * math.sin(2 * math.pi * (hours - 10) / 24)


def _simulate_minute(minute: datetime, seed: int, incident: bool, daily_interactions: int) -> _Minute:
    epoch_minute = int((minute - _EPOCH) // MINUTE)
    rng = np.random.default_rng([seed, epoch_minute])
    load = _daily_factor(minute)
    requests = int(rng.poisson(daily_interactions / 1440 * load))

    if incident:
        # The database saturates: queries queue, the function runs ~4 s and some requests time out.
        duration = rng.lognormal(math.log(3800), 0.25, requests)
        rate_5xx = 0.15
    else:
        duration = rng.lognormal(math.log(60), 0.5, requests)
        rate_5xx = 0.002
    errors_5xx = int(rng.binomial(requests, rate_5xx))
    errors_4xx = int(rng.binomial(requests - errors_5xx, 0.01))
    integration = duration + rng.lognormal(math.log(8), 0.3, requests)
    latency = integration + rng.uniform(2, 12, requests)
    mean_duration = float(duration.mean()) if requests else 0.0

    base_cpu = 12 + 25 * load / 1.5
    return _Minute(
        requests=requests,
        errors_4xx=errors_4xx,
        errors_5xx=errors_5xx,
        throttles=int(rng.poisson(1.0)) if incident else 0,
        duration_ms=duration,
        integration_latency_ms=integration,
        latency_ms=latency,
        # Little's law on the minute: busy function-seconds per second, plus one warm instance.
        concurrent_executions=float(math.ceil(requests * mean_duration / 60_000) + rng.integers(0, 2)),
        cpu_pct=float(np.clip(rng.normal(90, 3) if incident else rng.normal(base_cpu, 3), 1, 100)),
        connections=float(round(rng.normal(130, 8) if incident else rng.normal(10 + 0.15 * requests, 2))),
        read_latency_s=float(abs(rng.normal(0.025, 0.004) if incident else rng.normal(0.0015, 0.0003))),
        write_latency_s=float(abs(rng.normal(0.040, 0.006) if incident else rng.normal(0.0025, 0.0004))),
        read_throughput_bps=float(max(0.0, rng.normal(requests * 2_000, 5_000))),
        write_throughput_bps=float(max(0.0, rng.normal(requests * 800, 2_000))),
        read_iops=float(max(0.0, rng.normal(requests * 0.25, 1.0))),
        write_iops=float(max(0.0, rng.normal(requests * 0.1, 0.5))),
        # ~20 GiB that slowly fills over the week.
        free_storage_bytes=float(21_474_836_480 - 40_000 * (epoch_minute % 10_080) + rng.integers(0, 4096)),
    )


def _distribution(samples: np.ndarray, decimals: int = 2) -> tuple[tuple[float, ...], tuple[float, ...]]:
    values, counts = np.unique(np.round(samples, decimals), return_counts=True)
    return tuple(values.tolist()), tuple(float(c) for c in counts.tolist())


def _outcomes(total: int, hits: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-event 0/1 samples (how AWS publishes errors): Sum is the hits, Average the rate."""
    pairs = [(value, float(count)) for value, count in ((0.0, total - hits), (1.0, hits)) if count > 0]
    return tuple(v for v, _ in pairs), tuple(c for _, c in pairs)


def _gauge(value: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return (value,), (1.0,)


_Sampler = Callable[[_Minute], tuple[tuple[float, ...], tuple[float, ...]]]


@dataclass(frozen=True)
class _Model:
    unit: str  # the unit AWS publishes the metric in
    sample: _Sampler


_A, _L, _R = Service.APIGATEWAY, Service.LAMBDA, Service.RDS

# How each CloudWatch metric is produced from a minute. A catalog row without an entry here is refused.
MODELS: dict[tuple[Service, str], _Model] = {
    (_A, "Count"): _Model("Count", lambda m: _outcomes(m.requests, m.requests)),
    (_A, "4XXError"): _Model("Count", lambda m: _outcomes(m.requests, m.errors_4xx)),
    (_A, "5XXError"): _Model("Count", lambda m: _outcomes(m.requests, m.errors_5xx)),
    (_A, "Latency"): _Model("Milliseconds", lambda m: _distribution(m.latency_ms)),
    (_A, "IntegrationLatency"): _Model("Milliseconds", lambda m: _distribution(m.integration_latency_ms)),
    (_L, "Invocations"): _Model("Count", lambda m: _outcomes(m.requests, m.requests)),
    (_L, "Errors"): _Model("Count", lambda m: _outcomes(m.requests, m.errors_5xx)),
    (_L, "Throttles"): _Model("Count", lambda m: _outcomes(m.requests + m.throttles, m.throttles)),
    (_L, "Duration"): _Model("Milliseconds", lambda m: _distribution(m.duration_ms)),
    (_L, "ConcurrentExecutions"): _Model("Count", lambda m: _gauge(m.concurrent_executions)),
    (_R, "CPUUtilization"): _Model("Percent", lambda m: _gauge(round(m.cpu_pct, 2))),
    (_R, "DatabaseConnections"): _Model("Count", lambda m: _gauge(m.connections)),
    (_R, "ReadLatency"): _Model("Seconds", lambda m: _gauge(round(m.read_latency_s, 6))),
    (_R, "WriteLatency"): _Model("Seconds", lambda m: _gauge(round(m.write_latency_s, 6))),
    (_R, "ReadThroughput"): _Model("Bytes/Second", lambda m: _gauge(round(m.read_throughput_bps, 1))),
    (_R, "WriteThroughput"): _Model("Bytes/Second", lambda m: _gauge(round(m.write_throughput_bps, 1))),
    (_R, "ReadIOPS"): _Model("Count/Second", lambda m: _gauge(round(m.read_iops, 3))),
    (_R, "WriteIOPS"): _Model("Count/Second", lambda m: _gauge(round(m.write_iops, 3))),
    (_R, "FreeStorageSpace"): _Model("Bytes", lambda m: _gauge(m.free_storage_bytes)),
}


def published_metrics(metrics: Iterable[MetricSpec] = METRICS) -> tuple[tuple[Service, str], ...]:
    """The distinct (service, metric name) pairs of the catalog rows, in order; refuses unmodelled ones."""
    pairs = tuple(dict.fromkeys((spec.service, spec.metric_name) for spec in metrics))
    missing = [f"{SERVICES[s].namespace} {name}" for s, name in pairs if (s, name) not in MODELS]
    if missing:
        raise UnmodelledMetricError(
            f"the workload generator has no model for catalog metric(s) {', '.join(missing)}: "
            "add an entry to cw_local.workload.MODELS"
        )
    return pairs


def generate(
    start: datetime,
    end: datetime,
    *,
    seed: int,
    incident: Incident | None = None,
    resources: Resources | None = None,
    daily_interactions: int = DEFAULT_DAILY_INTERACTIONS,
    metrics: Iterable[MetricSpec] = catalog.METRICS,
) -> Workload:
    """One datapoint per minute in ``[start, end)`` for every catalog metric (see the module docstring).

    ``start`` and ``end`` are aware datetimes on whole minutes; ``resources`` defaults to each service's
    default resource (`cw_pipeline.catalog.SERVICES`) in the ``dev`` environment.
    """
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None:
            raise ValueError(f"{name}={moment!r} has no time zone; pass an aware UTC datetime")
        if moment.second or moment.microsecond:
            raise ValueError(f"{name}={moment.isoformat()} is not on a whole minute")
    if end <= start:
        raise ValueError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    pairs = published_metrics(metrics)
    resources = resources or Resources.from_settings(Settings.from_env({}))

    datapoints: list[Datapoint] = []
    minute = start
    while minute < end:
        state = _simulate_minute(minute, seed, incident is not None and incident.covers(minute), daily_interactions)
        for service, metric_name in pairs:
            model = MODELS[(service, metric_name)]
            values, counts = model.sample(state)
            if not values:
                continue  # a minute without requests publishes no per-request samples, as on AWS
            datapoints.append(
                Datapoint(service, metric_name, resources.name_for(service), minute, model.unit, values, counts)
            )
        minute += MINUTE
    return Workload(start, end, seed, incident, resources, tuple(datapoints))


def publish(workload: Workload, cloudwatch_client) -> PublishReport:
    """PutMetricData every datapoint of ``workload``, one namespace per call, within AWS's limits."""
    calls = items_sent = 0
    for namespace, items in _items_by_namespace(workload.datapoints).items():
        for batch in _batches(items):
            cloudwatch_client.put_metric_data(Namespace=namespace, MetricData=batch)
            calls += 1
            items_sent += len(batch)
    return PublishReport(calls=calls, metric_data_items=items_sent, datapoints=len(workload.datapoints))


def _items_by_namespace(datapoints: Iterable[Datapoint]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for datapoint in datapoints:
        grouped.setdefault(datapoint.namespace, []).extend(datapoint.metric_data())
    return grouped


def _batches(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for item in items:
        item_size = _ITEM_OVERHEAD_BYTES + _VALUE_BYTES * len(item.get("Values", ()))
        if batch and (len(batch) == MAX_ITEMS_PER_CALL or size + item_size > PAYLOAD_BUDGET_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch
