"""Invariants over every row of the SLO table and the burn-rate policy table, and the rows the issue asks for."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from cw_pipeline import catalog
from cw_pipeline.catalog import Service, WhenMissing
from cw_pipeline.slos import (
    POLICIES,
    POLICY_BUDGET_PERIOD,
    SLOS,
    BurnRatePolicy,
    EventSLO,
    Severity,
    WindowSLO,
    longest_window,
    policies_for,
    slo,
    window_label,
)

FIVE_MINUTES = timedelta(minutes=5)


@pytest.mark.parametrize("row", SLOS, ids=lambda s: s.slo_id)
def test_every_slo_row_is_well_formed(row):
    assert 0 < row.objective < 100
    assert row.compliance_period > timedelta(0) and row.compliance_period % FIVE_MINUTES == timedelta(0)
    # The policy table's burn rates and budget shares assume its budget period.
    assert row.compliance_period == POLICY_BUDGET_PERIOD
    for attribute in row.attributes:
        assert attribute in catalog.attributes_for(row.service)
    if isinstance(row, EventSLO):
        # Events are counted: a count with no datapoint is zero traffic, and counts add up across windows.
        for attribute in row.attributes:
            spec = catalog.metric_for_attribute(row.service, attribute)
            assert spec.statistic == "Sum" and spec.when_missing is WhenMissing.ZERO
        assert row.total not in row.bad
    else:
        assert isinstance(row, WindowSLO)
        assert row.good_at_most > 0


def test_slo_ids_are_unique_and_found_by_id():
    assert [i for i, n in Counter(s.slo_id for s in SLOS).items() if n > 1] == []
    for row in SLOS:
        assert slo(row.slo_id) is row
    with pytest.raises(KeyError, match=r"unknown SLO 'nope'.*api_availability"):
        slo("nope")


def test_default_slos_are_the_issues():
    assert {(s.slo_id, s.service, s.objective, s.total, s.bad) for s in SLOS if isinstance(s, EventSLO)} == {
        ("api_availability", Service.APIGATEWAY, 99.9, "request_count", ("errors_5xx",)),
        ("lambda_success", Service.LAMBDA, 99.9, "invocations", ("errors",)),
    }
    windows = {
        (s.slo_id, s.service, s.objective, s.attribute, s.good_at_most) for s in SLOS if isinstance(s, WindowSLO)
    }
    assert windows == {("api_latency", Service.APIGATEWAY, 99.0, "latency_p95_ms", 1000.0)}
    assert slo("api_availability").good_events == "request_count - errors_5xx"
    assert slo("api_availability").error_budget == pytest.approx(0.001)
    assert slo("api_latency").error_budget == pytest.approx(0.01)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_policy_row_is_well_formed(policy):
    for window in (policy.long_window, policy.short_window):
        assert window > timedelta(0) and window % FIVE_MINUTES == timedelta(0)
    assert policy.long_window > policy.short_window
    assert policy.long_windows == policy.long_window / FIVE_MINUTES
    assert policy.burn_rate > 0
    assert isinstance(policy.severity, Severity)
    # The workbook's "budget spent" column: burning at exactly the rate over the long window.
    assert policy.burn_rate * (policy.long_window / POLICY_BUDGET_PERIOD) == pytest.approx(policy.budget_spent)


def test_policy_table_is_the_workbooks():
    assert [p.name for p in POLICIES] == list(dict.fromkeys(p.name for p in POLICIES))
    rows = {
        (p.severity.value, p.long_window.total_seconds() / 60, p.short_window.total_seconds() / 60, p.burn_rate)
        for p in POLICIES
    }
    assert rows == {("page", 60, 5, 14.4), ("page", 360, 30, 6), ("ticket", 3 * 24 * 60, 360, 1)}
    assert [p.name for p in policies_for(Severity.PAGE)] == ["page_fast", "page_slow"]
    assert longest_window() == timedelta(days=3)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: EventSLO("x", Service.LAMBDA, 100.0, "invocations", ("errors",), "d"), "strictly between 0 and 100"),
        (lambda: EventSLO("x", Service.LAMBDA, 99.0, "invocations", ("errrors",), "d"), r"\['errrors'\]"),
        (lambda: EventSLO("x", Service.LAMBDA, 99.0, "invocations", (), "d"), "no bad-event attribute"),
        (lambda: WindowSLO("x", Service.RDS, 99.0, "latency_p95_ms", 1.0, "d"), "rds aggregates do not have"),
        (
            lambda: WindowSLO("x", Service.RDS, 99.0, "cpu_avg_pct", 80.0, "d", timedelta(minutes=7)),
            "whole number of 5-minute windows",
        ),
        (
            lambda: BurnRatePolicy("p", Severity.PAGE, timedelta(hours=1), timedelta(hours=1), 14.4, 0.02),
            "must be shorter than long window",
        ),
        (
            lambda: BurnRatePolicy("p", Severity.PAGE, timedelta(hours=1), timedelta(minutes=2), 14.4, 0.02),
            "short window is 0:02:00",
        ),
        (lambda: BurnRatePolicy("p", Severity.PAGE, timedelta(hours=1), FIVE_MINUTES, 0, 0.02), "must be above 0"),
    ],
)
def test_a_bad_row_is_refused_with_what_is_expected(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("span", "label"),
    [(FIVE_MINUTES, "5m"), (timedelta(minutes=30), "30m"), (timedelta(hours=6), "6h"), (timedelta(days=3), "3d")],
)
def test_window_labels_read_like_the_workbook(span, label):
    assert window_label(span) == label
