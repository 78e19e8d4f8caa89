"""Percentiles and basic statistics from moto's GetMetricData once `percentiles.install()` is applied.

Expected values are computed here, independently: by hand for the small lists, and for the random
samples by the nearest-rank definition (sorted values, rank = ceil(p * n / 100)) in integer arithmetic.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from cw_local import percentiles

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
PERIOD = 300
NAMESPACE = "AWS/ApiGateway"
METRIC = "Latency"
DIMENSIONS = [{"Name": "ApiName", "Value": "cw-analytics-dev-api"}]
STATS = ("p95", "p99", "Average", "Sum", "SampleCount", "Maximum")


@pytest.fixture
def cloudwatch():
    percentiles.install()
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def put_samples(cloudwatch, minute: int, values, counts=None, namespace=NAMESPACE, dimensions=DIMENSIONS):
    datum = {
        "MetricName": METRIC,
        "Dimensions": dimensions,
        "Timestamp": T0 + timedelta(minutes=minute, seconds=7),
        "Unit": "Milliseconds",
        "Values": list(values),
    }
    if counts is not None:
        datum["Counts"] = list(counts)
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[datum])


def query(cloudwatch, stats, start=T0, windows=2, dimensions=DIMENSIONS) -> dict[str, dict[datetime, float]]:
    """{stat: {period start: value}} for the metric over `windows` five-minute periods."""
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": f"q{i}",
                "Label": stat,
                "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": METRIC, "Dimensions": dimensions},
                    "Period": PERIOD,
                    "Stat": stat,
                },
            }
            for i, stat in enumerate(stats)
        ],
        StartTime=start,
        EndTime=start + timedelta(seconds=PERIOD * windows),
    )
    return {
        result["Label"]: dict(zip(result["Timestamps"], result["Values"], strict=True))
        for result in response["MetricDataResults"]
    }


def nearest_rank(samples: list[float], percent_times_10: int) -> float:
    """Independent nearest rank: percent given in tenths (950 = p95) so the rank is exact integer math."""
    ordered = sorted(samples)
    rank = max(1, -(-percent_times_10 * len(ordered) // 1000))
    return ordered[rank - 1]


W1, W2 = T0, T0 + timedelta(seconds=PERIOD)


def test_small_known_samples(cloudwatch):
    # Window 1: 1..20 ms once each, spread over minutes 0-3. p95 is rank 19, p99 rank 20.
    put_samples(cloudwatch, 0, [7, 3, 12, 1, 20])
    put_samples(cloudwatch, 1, [2, 15, 9, 18, 4])
    put_samples(cloudwatch, 2, [11, 5, 16, 8, 13])
    put_samples(cloudwatch, 3, [6, 19, 10, 14, 17])
    # Window 2: 10 x3, 20 x1, 30 x1 -> expanded [10, 10, 10, 20, 30].
    put_samples(cloudwatch, 6, [20, 10, 30], counts=[1, 3, 1])
    # Same metric name and dimensions under another namespace, and another API: must not be counted.
    put_samples(cloudwatch, 1, [5000], namespace="Custom/Other")
    put_samples(cloudwatch, 6, [5000], dimensions=[{"Name": "ApiName", "Value": "other-api"}])

    got = query(cloudwatch, (*STATS, "p60", "p61", "p0", "p100"))

    assert got["p95"] == {W1: 19.0, W2: 30.0}
    assert got["p99"] == {W1: 20.0, W2: 30.0}
    assert got["Sum"] == {W1: 210.0, W2: 80.0}
    assert got["SampleCount"] == {W1: 20.0, W2: 5.0}
    assert got["Average"] == {W1: 10.5, W2: 16.0}
    assert got["Maximum"] == {W1: 20.0, W2: 30.0}
    # n = 5: p60 is exactly rank 3 (10), p61 is rank ceil(3.05) = 4 (20).
    assert got["p60"][W2] == 10.0
    assert got["p61"][W2] == 20.0
    assert got["p0"] == {W1: 1.0, W2: 10.0}
    assert got["p100"] == {W1: 20.0, W2: 30.0}


def test_randomized_samples_with_counts(cloudwatch):
    rng = random.Random(20250304)
    expanded: dict[datetime, list[float]] = {W1: [], W2: []}
    for minute in range(10):
        values = sorted({round(rng.lognormvariate(4.5, 0.6), 1) for _ in range(120)})
        counts = [rng.choice([1, 1, 1, 2, 5]) for _ in values]
        for start in (0, 100):  # two PutMetricData calls: at most 150 values each
            put_samples(cloudwatch, minute, values[start : start + 100], counts[start : start + 100])
        window = W1 if minute < 5 else W2
        for value, count in zip(values, counts, strict=True):
            expanded[window].extend([value] * count)

    got = query(cloudwatch, (*STATS, "p50", "p99.9"))

    for window, samples in expanded.items():
        assert got["p95"][window] == nearest_rank(samples, 950)
        assert got["p99"][window] == nearest_rank(samples, 990)
        assert got["p99.9"][window] == nearest_rank(samples, 999)
        assert got["p50"][window] == nearest_rank(samples, 500)
        assert got["SampleCount"][window] == len(samples)
        assert got["Sum"][window] == pytest.approx(sum(samples))
        assert got["Average"][window] == pytest.approx(sum(samples) / len(samples))
        assert got["Maximum"][window] == max(samples)


def test_scalar_values_and_statistic_sets(cloudwatch):
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {"MetricName": METRIC, "Dimensions": DIMENSIONS, "Timestamp": T0, "Value": 40.0},
            {"MetricName": METRIC, "Dimensions": DIMENSIONS, "Timestamp": T0, "Value": 60.0},
            {
                "MetricName": METRIC,
                "Dimensions": DIMENSIONS,
                "Timestamp": T0 + timedelta(minutes=1),
                "StatisticValues": {"SampleCount": 2, "Sum": 500.0, "Minimum": 100.0, "Maximum": 400.0},
            },
        ],
    )
    got = query(cloudwatch, (*STATS, "Minimum"), windows=1)
    assert got["Sum"] == {W1: 600.0}
    assert got["SampleCount"] == {W1: 4.0}
    assert got["Average"] == {W1: 150.0}
    assert got["Maximum"] == {W1: 400.0}
    assert got["Minimum"] == {W1: 40.0}
    # Statistic sets carry no raw samples: percentiles come from the two raw values only.
    assert got["p95"] == {W1: 60.0}


def test_empty_window_has_no_datapoint(cloudwatch):
    put_samples(cloudwatch, 6, [1.0, 2.0])
    got = query(cloudwatch, ("p95", "Sum"))
    assert got["p95"] == {W2: 2.0}
    assert got["Sum"] == {W2: 3.0}


def test_unsupported_statistic_is_refused_clearly(cloudwatch):
    put_samples(cloudwatch, 0, [1.0])
    with pytest.raises(ClientError, match="tm99"):
        query(cloudwatch, ("tm99",))


def test_aws_size_limits_are_enforced(cloudwatch):
    too_many_values = {"MetricName": METRIC, "Timestamp": T0, "Values": [1.0] * 151}
    with pytest.raises(ClientError, match="150"):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[too_many_values])
    too_many_items = [{"MetricName": METRIC, "Timestamp": T0, "Value": 1.0}] * 1001
    with pytest.raises(ClientError, match="1000"):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=too_many_items)


def test_install_is_idempotent(cloudwatch):
    percentiles.install()
    percentiles.install()
    assert percentiles.is_installed()
    put_samples(cloudwatch, 0, [1.0, 2.0, 3.0], counts=[1, 1, 2])
    got = query(cloudwatch, ("SampleCount", "p50"), windows=1)
    assert got == {"SampleCount": {W1: 4.0}, "p50": {W1: 2.0}}


def test_get_metric_statistics_still_counts_weighted_values(cloudwatch):
    put_samples(cloudwatch, 0, [10.0, 20.0], counts=[3, 1])
    response = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=METRIC,
        Dimensions=DIMENSIONS,
        StartTime=T0,
        EndTime=T0 + timedelta(seconds=PERIOD),
        Period=PERIOD,
        Statistics=["Sum", "SampleCount", "Average", "Maximum", "Minimum"],
    )
    (point,) = response["Datapoints"]
    assert (point["Sum"], point["SampleCount"], point["Average"]) == (50.0, 4.0, 12.5)
    assert (point["Minimum"], point["Maximum"]) == (10.0, 20.0)
