"""Invariants over every row of the metric catalog and the thresholds table."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from cw_pipeline import catalog
from cw_pipeline.catalog import METRICS, RATIOS, SERVICES, Service, WhenMissing
from cw_pipeline.thresholds import RULES, State

STATISTIC = re.compile(r"^(Sum|Average|Minimum|Maximum|SampleCount|p\d{1,2}(\.\d+)?)$")


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: f"{m.service}:{m.attribute}")
def test_every_row_is_well_formed(metric):
    assert STATISTIC.match(metric.statistic), metric.statistic
    assert metric.namespace == SERVICES[metric.service].namespace
    assert metric.scale > 0
    assert re.match(r"^[a-z][a-z0-9_]*$", metric.attribute)
    # Only sums of events can mean zero when CloudWatch has no datapoint.
    if metric.when_missing is WhenMissing.ZERO:
        assert metric.statistic == "Sum"


def test_attributes_are_unique_per_service():
    for service in Service:
        names = catalog.attributes_for(service)
        assert [n for n, c in Counter(names).items() if c > 1] == []


def test_ratios_read_counted_attributes():
    for ratio in RATIOS:
        for name in (*ratio.numerators, ratio.denominator):
            assert catalog.metric_for_attribute(ratio.service, name).when_missing is WhenMissing.ZERO


def test_rds_latency_is_converted_from_seconds_to_milliseconds():
    for name in ("read_latency_avg_ms", "write_latency_avg_ms"):
        assert catalog.metric_for_attribute(Service.RDS, name).scale == 1000.0


def test_every_dashboard_metric_of_the_seed_is_pulled():
    """architecture-seed.md, "CloudWatch Dashboard displays"."""
    pulled = {(m.namespace, m.metric_name, m.statistic) for m in METRICS}
    seed = {
        ("AWS/ApiGateway", "Count", "Sum"),
        ("AWS/ApiGateway", "4XXError", "Sum"),
        ("AWS/ApiGateway", "5XXError", "Sum"),
        ("AWS/ApiGateway", "Latency", "Average"),
        ("AWS/ApiGateway", "Latency", "p95"),
        ("AWS/ApiGateway", "Latency", "p99"),
        ("AWS/Lambda", "Invocations", "Sum"),
        ("AWS/Lambda", "Errors", "Sum"),
        ("AWS/Lambda", "Duration", "Average"),
        ("AWS/RDS", "CPUUtilization", "Average"),
        ("AWS/RDS", "DatabaseConnections", "Maximum"),
        ("AWS/RDS", "ReadLatency", "Average"),
        ("AWS/RDS", "WriteLatency", "Average"),
        ("AWS/RDS", "ReadThroughput", "Average"),
        ("AWS/RDS", "WriteThroughput", "Average"),
    }
    assert seed <= pulled


def test_rules_read_catalog_attributes_and_match_the_seed():
    for rule in RULES:
        assert rule.attribute in catalog.attributes_for(rule.service)
    # architecture-seed.md, "Alerting Thresholds".
    assert {(r.rule_id, r.attribute, r.threshold) for r in RULES} == {
        ("api_latency_avg", "latency_avg_ms", 1000),
        ("api_error_rate", "error_rate_pct", 5),
        ("lambda_errors", "errors", 10),
        ("lambda_duration_avg", "duration_avg_ms", 3000),
        ("rds_cpu_avg", "cpu_avg_pct", 80),
        ("rds_connections_max", "connections_max", 100),
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, State.INSUFFICIENT_DATA), (1000.0, State.OK), (1000.0001, State.ALARM), (0.0, State.OK)],
)
def test_a_rule_alarms_strictly_above_its_threshold(value, expected):
    rule = next(r for r in RULES if r.rule_id == "api_latency_avg")
    assert rule.evaluate(value) is expected
