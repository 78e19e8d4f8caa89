"""The workload generator: determinism, catalog coverage, incident shape against the rules, publishing.

Aggregates are computed here from the raw per-minute datapoints (values x counts), not with the
generator's own helpers; thresholds come from `cw_pipeline.thresholds.RULES`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from cw_local import percentiles
from cw_local.workload import Incident, Resources, UnmodelledMetricError, generate, publish
from cw_pipeline import catalog
from cw_pipeline.catalog import METRICS, SERVICES, MetricSpec, Service
from cw_pipeline.config import Settings
from cw_pipeline.thresholds import RULES

DAY = datetime(2025, 3, 4, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
INCIDENT = Incident(start=DAY + timedelta(hours=4), duration=timedelta(minutes=15))  # at the daily trough


@pytest.fixture(scope="module")
def day():
    return generate(DAY, DAY + timedelta(days=1), seed=42, incident=INCIDENT)


# id(workload) -> (workload, index); holding the workload keeps its id from being reused.
_MINUTE_INDEX: dict[int, tuple[object, dict[tuple[Service, str, datetime], list]]] = {}


def expanded(workload, service: Service, metric_name: str, start: datetime, end: datetime) -> list[float]:
    """Raw samples of one metric in [start, end): each published value repeated by its count."""
    if id(workload) not in _MINUTE_INDEX:
        _MINUTE_INDEX[id(workload)] = (workload, {})
        for point in workload.datapoints:
            _MINUTE_INDEX[id(workload)][1].setdefault((point.service, point.metric_name, point.timestamp), []).append(
                point
            )
    index = _MINUTE_INDEX[id(workload)][1]
    samples: list[float] = []
    minute = start
    while minute < end:
        for point in index.get((service, metric_name, minute), []):
            for value, count in zip(point.values, point.counts, strict=True):
                samples.extend([value] * int(count))
        minute += timedelta(minutes=1)
    return samples


def statistic(samples: list[float], stat: str) -> float | None:
    if not samples:
        return None
    if stat == "Sum":
        return sum(samples)
    if stat == "Average":
        return sum(samples) / len(samples)
    if stat == "Maximum":
        return max(samples)
    if stat == "Minimum":
        return min(samples)
    if stat == "SampleCount":
        return float(len(samples))
    percent = int(stat[1:])  # nearest rank, integer arithmetic
    return sorted(samples)[max(1, -(-percent * len(samples) // 100)) - 1]


def attribute_value(workload, service: Service, attribute: str, start: datetime) -> float | None:
    """An aggregate attribute of the window starting at `start`, from the catalog's definition."""
    end = start + WINDOW
    try:
        spec = catalog.metric_for_attribute(service, attribute)
    except KeyError:
        ratio = catalog.ratio_for_attribute(service, attribute)
        denominator = attribute_value(workload, service, ratio.denominator, start)
        numerators = [attribute_value(workload, service, name, start) or 0.0 for name in ratio.numerators]
        return ratio.scale * sum(numerators) / denominator if denominator else None
    value = statistic(expanded(workload, service, spec.metric_name, start, end), spec.statistic)
    if value is None and spec.when_missing == catalog.WhenMissing.ZERO:
        return 0.0
    return None if value is None else value * spec.scale


def breached_rules(workload, start: datetime) -> set[str]:
    return {
        rule.rule_id
        for rule in RULES
        if (value := attribute_value(workload, rule.service, rule.attribute, start)) is not None
        and value > rule.threshold
    }


def windows(start: datetime, end: datetime) -> list[datetime]:
    return [start + WINDOW * i for i in range(int((end - start) / WINDOW))]


def test_same_seed_same_data_and_minutes_independent_of_range():
    start, end = DAY + timedelta(hours=3), DAY + timedelta(hours=4)
    first = generate(start, end, seed=7, incident=INCIDENT)
    again = generate(start, end, seed=7, incident=INCIDENT)
    assert first.datapoints == again.datapoints
    other_seed = generate(start, end, seed=8, incident=INCIDENT)
    assert first.datapoints != other_seed.datapoints
    middle = start + timedelta(minutes=23)
    halves = (
        generate(start, middle, seed=7, incident=INCIDENT).datapoints
        + generate(middle, end, seed=7, incident=INCIDENT).datapoints
    )
    assert halves == first.datapoints


def test_every_catalog_metric_is_published_as_aws_does(day):
    names = {resource.service: resource.name for resource in Settings.from_env({}).resources}
    assert names[Service.APIGATEWAY] == "cw-analytics-dev-api"
    published = {(p.service, p.metric_name): p for p in day.datapoints}
    for spec in METRICS:
        point = published[(spec.service, spec.metric_name)]
        assert point.namespace == SERVICES[spec.service].namespace
        assert point.dimensions == [{"Name": SERVICES[spec.service].dimension_name, "Value": names[spec.service]}]
        # The stored unit is the published one unless the catalog rescales it (RDS latency: s -> ms).
        expected_unit = "Seconds" if spec.scale == 1000.0 and spec.unit == "Milliseconds" else spec.unit
        assert point.unit == expected_unit, spec
    minutes = {p.timestamp for p in day.datapoints}
    assert len(minutes) == 1440
    assert all(t.second == 0 for t in minutes)
    latency = [p for p in day.datapoints if p.metric_name == "Latency"]
    assert sum(sum(p.counts) for p in latency) / len(latency) > 30  # raw per-request samples


def test_a_catalog_row_without_a_model_is_refused():
    unknown = MetricSpec(Service.LAMBDA, "PostRuntimeExtensionsDuration", "Average", "ext_ms", "Milliseconds")
    with pytest.raises(UnmodelledMetricError, match="PostRuntimeExtensionsDuration"):
        generate(DAY, DAY + timedelta(minutes=1), seed=1, metrics=(*METRICS, unknown))


def test_daily_total_is_about_100k_and_services_agree(day):
    requests = expanded(day, Service.APIGATEWAY, "Count", DAY, DAY + timedelta(days=1))
    assert abs(sum(requests) - 100_000) < 2_000
    for minute in (DAY + timedelta(minutes=m) for m in range(0, 1440, 37)):
        after = minute + timedelta(minutes=1)
        assert sum(expanded(day, Service.LAMBDA, "Invocations", minute, after)) == sum(
            expanded(day, Service.APIGATEWAY, "Count", minute, after)
        )
        assert sum(expanded(day, Service.LAMBDA, "Errors", minute, after)) == sum(
            expanded(day, Service.APIGATEWAY, "5XXError", minute, after)
        )
    peak = sum(expanded(day, Service.APIGATEWAY, "Count", DAY + timedelta(hours=16), DAY + timedelta(hours=17)))
    trough = sum(expanded(day, Service.APIGATEWAY, "Count", DAY + timedelta(hours=4), DAY + timedelta(hours=5)))
    assert peak > 2 * trough  # the daily curve


def test_incident_breaches_every_rule_then_recovers(day):
    all_rules = {rule.rule_id for rule in RULES}
    for start in windows(INCIDENT.start, INCIDENT.end):
        assert breached_rules(day, start) == all_rules, start
    # Every other window of the day, recovery included, breaches nothing.
    for start in windows(DAY, DAY + timedelta(days=1)):
        if not INCIDENT.start <= start < INCIDENT.end:
            assert breached_rules(day, start) == set(), start


def test_publish_into_moto_and_read_back():
    percentiles.install()  # also enforces AWS's PutMetricData size limits
    start = DAY + timedelta(hours=3)
    workload = generate(start, start + timedelta(hours=2), seed=3, incident=INCIDENT)
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        calls: list[dict] = []
        cloudwatch.meta.events.register(
            "provide-client-params.cloudwatch.PutMetricData", lambda params, **_: calls.append(params)
        )
        report = publish(workload, cloudwatch)
        assert report.calls == len(calls)
        assert all(len(c["MetricData"]) <= 1000 for c in calls)
        assert all(len(item.get("Values", ())) <= 150 for c in calls for item in c["MetricData"])

        queries = [
            ("count", Service.APIGATEWAY, "Count", "Sum"),
            ("latp95", Service.APIGATEWAY, "Latency", "p95"),
            ("dur", Service.LAMBDA, "Duration", "Average"),
            ("rdslat", Service.RDS, "ReadLatency", "Average"),
        ]
        names = {resource.service: resource.name for resource in Settings.from_env({}).resources}
        response = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": SERVICES[service].namespace,
                            "MetricName": metric_name,
                            "Dimensions": [{"Name": SERVICES[service].dimension_name, "Value": names[service]}],
                        },
                        "Period": 300,
                        "Stat": stat,
                    },
                }
                for query_id, service, metric_name, stat in queries
            ],
            StartTime=workload.start,
            EndTime=workload.end,
            ScanBy="TimestampAscending",
        )
        results = {r["Id"]: dict(zip(r["Timestamps"], r["Values"], strict=True)) for r in response["MetricDataResults"]}

    expected_windows = windows(workload.start, workload.end)
    for query_id, service, metric_name, stat in queries:
        assert sorted(results[query_id]) == expected_windows, query_id
        for window_start, got in results[query_id].items():
            samples = expanded(workload, service, metric_name, window_start, window_start + WINDOW)
            assert math.isclose(got, statistic(samples, stat), rel_tol=1e-9), (query_id, window_start)


def test_resources_are_one_configured_name_per_catalog_service():
    configured = Settings.from_env({"CW_API_NAMES": "a1,a2", "CW_FUNCTION_NAMES": "f", "CW_DB_INSTANCE_IDS": "d"})
    resources = Resources.from_settings(configured)
    assert {service: resources.name_for(service) for service in Service} == {
        Service.APIGATEWAY: "a1",
        Service.LAMBDA: "f",
        Service.RDS: "d",
    }
    minute = generate(DAY, DAY + timedelta(minutes=1), seed=1, resources=resources)
    assert {(d.service, d.resource) for d in minute.datapoints} == {
        (Service.APIGATEWAY, "a1"),
        (Service.LAMBDA, "f"),
        (Service.RDS, "d"),
    }
    assert Resources.from_settings(Settings.from_env({})).names == {
        Service.APIGATEWAY: "cw-analytics-dev-api",
        Service.LAMBDA: "cw-analytics-dev-api-handler",
        Service.RDS: "cw-analytics-dev-db",
    }


def test_resources_refuse_a_service_without_a_name():
    with pytest.raises(
        ValueError, match=r"^no resource named for rds; expected one for each of apigateway, lambda, rds$"
    ):
        Resources({Service.APIGATEWAY: "a", Service.LAMBDA: "f"})
