"""A synthetic estate of any size, for scale tests and benchmarks: N functions, M REST APIs, K databases.

`Estate.of_size(1000, 50, 20)` is the estate of issue 11 (8,620 catalog queries per window);
`Estate.seed_stack()` is the project's own stack (one API, its function, its database) under the
default names. `generate` makes one datapoint per resource, metric and minute, with the namespaces,
metric names, dimensions and units AWS uses, and `publish` writes them with PutMetricData inside AWS's
limits. `create_tagged_resources` creates the functions, databases and REST APIs themselves, tagged,
so that ``CW_DISCOVERY=tags`` finds them.

The model is deliberately plain (the pipeline's arithmetic is what is measured, not realism):

* every resource has a steady request rate drawn once from the seed (log-normal: most are quiet,
  a few are busy); a minute's requests are Poisson around it, and a quiet minute publishes no
  request-level metric at all, as AWS does;
* errors are 0.02 % of requests, well inside the 99.9 % SLOs (a burn rate of 0.2), so that what pages or
  opens a ticket on the estate is its incidents and the odd error of a quiet function, not every resource
  at once; durations and latencies are log-normal around 80 ms, rounded to the
  millisecond and published as ``Values``/``Counts``;
* databases publish one gauge value per minute and metric;
* one resource in `INCIDENT_EVERY` (index 0, 100, 200, ...) of each service is in an incident for the
  whole range: 30 % errors, ~4 s durations, 90 % CPU, 130 connections, so that each alert rule fires.

Deterministic: the same estate, range and seed give the same datapoints.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from cw_local.metric_data import metric_data
from cw_pipeline import naming
from cw_pipeline.catalog import SERVICES, Service

MINUTE = timedelta(minutes=1)
INCIDENT_EVERY = 100
HEALTHY_ERROR_RATE = 0.0002  # errors per request outside an incident
MAX_ITEMS_PER_CALL = 1000  # PutMetricData's limit
PAYLOAD_BUDGET_BYTES = 600_000  # well under PutMetricData's 1 MB request limit
ESTATE_TAG = ("estate", "bench")
FUNCTION_ROLE = "estate-function-role"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_A, _L, _R = Service.APIGATEWAY, Service.LAMBDA, Service.RDS


@dataclass(frozen=True)
class EstateDatapoint:
    """One metric of one resource for one minute, as published: raw ``values`` each seen ``counts`` times."""

    service: Service
    metric_name: str
    resource: str
    timestamp: datetime
    unit: str
    values: tuple[float, ...]
    counts: tuple[float, ...]

    def total(self) -> float:
        return math.fsum(v * c for v, c in zip(self.values, self.counts, strict=True))

    def sample_count(self) -> float:
        return math.fsum(self.counts)

    def metric_data(self) -> list[dict[str, Any]]:
        """PutMetricData items: one ``Value``, or ``Values``/``Counts`` in chunks of 150."""
        return metric_data(
            self.service, self.metric_name, self.resource, self.timestamp, self.unit, self.values, self.counts
        )


@dataclass(frozen=True)
class Estate:
    apis: tuple[str, ...]
    functions: tuple[str, ...]
    databases: tuple[str, ...]
    mean_requests_per_minute: float = 6.0
    rate_spread: float = 1.0  # sigma of the log-normal request rates across resources; 0: all at the mean

    @classmethod
    def of_size(cls, functions: int, apis: int, databases: int, prefix: str = "estate") -> Estate:
        if min(functions, apis, databases) < 0:
            raise ValueError("an estate cannot have a negative number of resources")
        return cls(
            apis=tuple(f"{prefix}-api-{i:03d}" for i in range(apis)),
            functions=tuple(f"{prefix}-fn-{i:04d}" for i in range(functions)),
            databases=tuple(f"{prefix}-db-{i:02d}" for i in range(databases)),
        )

    @classmethod
    def seed_stack(cls, env: str = "dev", requests_per_minute: float = 70.0) -> Estate:
        """The project's own stack under its default names, at the seed's 100k interactions a day."""
        return cls(
            apis=(naming.resource_name(env, naming.API),),
            functions=(naming.resource_name(env, naming.API_FUNCTION),),
            databases=(naming.resource_name(env, naming.DATABASE),),
            mean_requests_per_minute=requests_per_minute,
            rate_spread=0.0,
        )

    def names(self) -> dict[Service, tuple[str, ...]]:
        return {_A: self.apis, _L: self.functions, _R: self.databases}

    def count(self) -> int:
        return len(self.apis) + len(self.functions) + len(self.databases)

    def in_incident(self, service: Service, name: str) -> bool:
        return self.names()[service].index(name) % INCIDENT_EVERY == 0

    def name_environment(self) -> dict[str, str]:
        """``CW_API_NAMES`` and its siblings listing every resource (too long for Lambda past ~200 names)."""
        return {SERVICES[service].config_variable: ",".join(names) for service, names in self.names().items()}


def generate(
    estate: Estate,
    start: datetime,
    end: datetime,
    seed: int = 11,
    incident: tuple[datetime, datetime] | None = None,
) -> list[EstateDatapoint]:
    """Every datapoint of ``estate`` for the minutes in ``[start, end)`` (aware, on whole minutes).

    The incident resources are in incident during ``incident`` (``[start, end)``), by default the whole range.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware UTC datetimes")
    if start.second or start.microsecond or end <= start:
        raise ValueError(f"expected whole minutes with start < end, got {start} .. {end}")
    incident_start, incident_end = incident or (start, end)
    rates = {
        service: _rates(len(names), estate.mean_requests_per_minute, estate.rate_spread, seed, index)
        for index, (service, names) in enumerate(estate.names().items())
    }
    points: list[EstateDatapoint] = []
    minute = start.astimezone(UTC)
    while minute < end:
        rng = np.random.default_rng([seed, int((minute - _EPOCH) // MINUTE)])
        during = incident_start <= minute < incident_end
        for service, names in estate.names().items():
            for position, name in enumerate(names):
                in_incident = during and position % INCIDENT_EVERY == 0
                points.extend(_MINUTE_MODELS[service](rng, name, minute, rates[service][position], in_incident))
        minute += MINUTE
    return points


def _rates(count: int, mean: float, sigma: float, seed: int, stream: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 1_000_000 + stream])
    return rng.lognormal(math.log(mean) - sigma**2 / 2, sigma, count)


def _distribution(samples: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    # Two significant digits: enough for percentiles to mean something, few values to store in the emulator.
    magnitude = 10.0 ** (np.floor(np.log10(np.maximum(samples, 1.0))) - 1)
    values, counts = np.unique(np.round(samples / magnitude) * magnitude, return_counts=True)
    return tuple(values.tolist()), tuple(float(c) for c in counts.tolist())


def _point(service, metric, name, minute, unit, values, counts=None) -> EstateDatapoint:
    values = tuple(float(v) for v in values)
    return EstateDatapoint(service, metric, name, minute, unit, values, counts or (1.0,) * len(values))


def _requests(rng, rate: float, incident: bool) -> tuple[int, int, np.ndarray]:
    requests = int(rng.poisson(max(rate, 40.0) if incident else rate))
    errors = int(rng.binomial(requests, 0.3 if incident else HEALTHY_ERROR_RATE))
    durations = rng.lognormal(math.log(4000.0 if incident else 80.0), 0.2 if incident else 0.5, requests)
    return requests, errors, durations


def _function_minute(rng, name, minute, rate, incident) -> Iterator[EstateDatapoint]:
    requests, errors, durations = _requests(rng, rate, incident)
    if not requests:
        return
    yield _point(_L, "Invocations", name, minute, "Count", [requests])
    yield _point(_L, "Errors", name, minute, "Count", [errors])
    yield _point(_L, "Throttles", name, minute, "Count", [0])
    yield _point(_L, "Duration", name, minute, "Milliseconds", *_distribution(durations))
    busy = math.ceil(requests * float(durations.mean()) / 60_000)
    yield _point(_L, "ConcurrentExecutions", name, minute, "Count", [busy])


def _api_minute(rng, name, minute, rate, incident) -> Iterator[EstateDatapoint]:
    requests, errors, durations = _requests(rng, rate, incident)
    if not requests:
        return
    client_errors = int(rng.binomial(requests - errors, 0.01))
    yield _point(_A, "Count", name, minute, "Count", [requests])
    yield _point(_A, "4XXError", name, minute, "Count", [client_errors])
    yield _point(_A, "5XXError", name, minute, "Count", [errors])
    yield _point(_A, "IntegrationLatency", name, minute, "Milliseconds", *_distribution(durations + 5))
    yield _point(_A, "Latency", name, minute, "Milliseconds", *_distribution(durations + 12))


def _database_minute(rng, name, minute, rate, incident) -> Iterator[EstateDatapoint]:
    cpu = 90.0 if incident else min(95.0, 10.0 + 2.0 * rate)
    gauges = {
        "CPUUtilization": ("Percent", round(cpu + float(rng.normal(0, 2)), 2)),
        "DatabaseConnections": ("Count", 130.0 if incident else float(round(5 + rate))),
        "ReadLatency": ("Seconds", round(abs(float(rng.normal(0.002, 0.0004))), 6)),
        "WriteLatency": ("Seconds", round(abs(float(rng.normal(0.003, 0.0005))), 6)),
        "ReadThroughput": ("Bytes/Second", round(2_000.0 * rate, 1)),
        "WriteThroughput": ("Bytes/Second", round(800.0 * rate, 1)),
        "ReadIOPS": ("Count/Second", round(0.25 * rate, 3)),
        "WriteIOPS": ("Count/Second", round(0.1 * rate, 3)),
        "FreeStorageSpace": ("Bytes", 21_474_836_480.0 - 40_000.0 * (minute.minute + 60 * minute.hour)),
    }
    for metric, (unit, value) in gauges.items():
        yield _point(_R, metric, name, minute, unit, [value])


_MINUTE_MODELS = {_A: _api_minute, _L: _function_minute, _R: _database_minute}


def slo_history_aggregates(estate: Estate, window_starts: Sequence[datetime], seed: int = 11) -> pd.DataFrame:
    """Healthy 5-minute aggregates of the attributes the SLOs read (`cw_pipeline.slos.attributes_read`), for the
    APIs and functions over ``window_starts``: the same per-resource request rates as `generate`, Poisson
    requests, errors at `HEALTHY_ERROR_RATE`, an API p95 latency log-normal around 190 ms. What three days of
    SLO history hold at steady state, built per window without publishing 7 million datapoints."""
    starts = pd.DatetimeIndex(list(window_starts)).tz_convert("UTC")
    frames = []
    for index, (service, names) in enumerate(estate.names().items()):
        if service is _R or not names:
            continue
        rng = np.random.default_rng([seed, 2_000_000 + index])
        rates = _rates(len(names), estate.mean_requests_per_minute, estate.rate_spread, seed, index)
        requests = rng.poisson(np.repeat(rates * 5, len(starts)).reshape(len(names), len(starts))).astype(float)
        errors = rng.binomial(requests.astype(int), HEALTHY_ERROR_RATE).astype(float)
        frame = pd.DataFrame(
            {
                "service": service.value,
                "resource": np.repeat(np.array(names, dtype=object), len(starts)),
                "window_start": np.tile(starts, len(names)),
            }
        )
        if service is _A:
            latency = np.round(rng.lognormal(math.log(190.0), 0.15, requests.shape), 1)
            frame["request_count"], frame["errors_5xx"] = requests.ravel(), errors.ravel()
            frame["latency_p95_ms"] = np.where(requests > 0, latency, np.nan).ravel()
        else:
            frame["invocations"], frame["errors"] = requests.ravel(), errors.ravel()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def publish(points: Iterable[EstateDatapoint], cloudwatch_client) -> int:
    """PutMetricData every datapoint, one namespace per call, within AWS's limits; returns the calls made."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        by_namespace.setdefault(SERVICES[point.service].namespace, []).extend(point.metric_data())
    calls = 0
    for namespace, items in by_namespace.items():
        batch: list[dict[str, Any]] = []
        size = 0
        for item in items:
            item_size = 400 + 100 * len(item.get("Values", ()))
            if batch and (len(batch) == MAX_ITEMS_PER_CALL or size + item_size > PAYLOAD_BUDGET_BYTES):
                cloudwatch_client.put_metric_data(Namespace=namespace, MetricData=batch)
                calls += 1
                batch, size = [], 0
            batch.append(item)
            size += item_size
        if batch:
            cloudwatch_client.put_metric_data(Namespace=namespace, MetricData=batch)
            calls += 1
    return calls


def create_tagged_resources(session, estate: Estate, tags: dict[str, str] | None = None) -> None:
    """Create the estate's functions, databases and REST APIs in an emulator, tagged with ``tags``."""
    tags = tags or dict([ESTATE_TAG])
    iam = session.client("iam")
    try:
        role = iam.get_role(RoleName=FUNCTION_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=FUNCTION_ROLE, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("handler.py", "def handler(event, context):\n    return None\n")
    functions = session.client("lambda")
    for name in estate.functions:
        functions.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
            Tags=tags,
        )
    rds = session.client("rds")
    for identifier in estate.databases:
        rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            DBInstanceClass="db.t4g.micro",
            Engine="postgres",
            MasterUsername="estate",
            MasterUserPassword="estate-password",
            AllocatedStorage=20,
            Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
        )
    apigateway = session.client("apigateway")
    for name in estate.apis:
        apigateway.create_rest_api(name=name, tags=tags)
