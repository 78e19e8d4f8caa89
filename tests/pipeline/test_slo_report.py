"""The daily SLO report: its numbers against a hand computation, its page, and the asset writing it to S3.

The hand-made day (2026-11-20) and the day before it: the API serves 1,000 requests in each of the 288
windows of both days. 5XX: 100 in one window on the 19th; 50, 30 and 10 at 08:20, 08:25 and 08:30 on the
20th. Latency p95 is 200 ms except 1500 ms at 16:40 and 1200 ms at 16:45 on the 20th.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance
from pipeline_support import COLLECTED_AT, run_windows
from slo_workload import API, WINDOWS, publish_outage

from cw_pipeline.aggregation import aggregates_from_items
from cw_pipeline.definitions import build_definitions
from cw_pipeline.defs.slo_assets import report_from_settings
from cw_pipeline.slo_report import build_report
from cw_pipeline.slo_report_html import render_html
from cw_pipeline.windows import WINDOW

DAY = datetime(2026, 11, 20, tzinfo=UTC)
END = DAY + timedelta(days=1)
BAD_20TH = {100: 50, 101: 30, 102: 10}  # window index of the day (08:20 is 100) -> 5XX
SLOW_20TH = {200: 1500.0, 201: 1200.0}  # 16:40 and 16:45 -> p95 ms


def two_days() -> pd.DataFrame:
    starts = [DAY - timedelta(days=1) + i * WINDOW for i in range(2 * 288)]
    errors = [100.0 if i == 50 else 0.0 for i in range(288)] + [float(BAD_20TH.get(i, 0)) for i in range(288)]
    p95 = [200.0] * 288 + [SLOW_20TH.get(i, 200.0) for i in range(288)]
    return pd.DataFrame(
        {
            "service": "apigateway",
            "resource": API,
            "window_start": pd.to_datetime(starts, utc=True),
            "request_count": 1000.0,
            "errors_5xx": errors,
            "latency_p95_ms": p95,
        }
    )


def item(pk: str, at: str, state: str, value: float | None = None, previous: str = "OK", **extra) -> dict:
    start = datetime.fromisoformat(at)
    found = {
        "pk": pk,
        "sk": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "resource": API,
        "state": state,
        "previous_state": previous,
        "window_start": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "window_end": f"{start + WINDOW:%Y-%m-%dT%H:%M:%SZ}",
        **extra,
    }
    if value is not None:
        found["value"] = value
    return found


RATE = {"rule_id": "api_error_rate", "threshold": 5.0}
PAGE = {"kind": "burn_rate", "slo_id": "api_availability", "severity": "page", "threshold": 14.4}
EVALUATIONS = [
    item("alert#api_error_rate#orders-api", "2026-11-20T08:15:00+00:00", "OK", 1.0, **RATE),
    item("alert#api_error_rate#orders-api", "2026-11-20T08:20:00+00:00", "ALARM", 6.0, **RATE),
    item("alert#api_error_rate#orders-api", "2026-11-20T08:25:00+00:00", "ALARM", 8.0, previous="ALARM", **RATE),
    item("alert#api_error_rate#orders-api", "2026-11-20T08:30:00+00:00", "OK", 1.0, previous="ALARM", **RATE),
    item("alert#api_error_rate#orders-api", "2026-11-20T23:55:00+00:00", "ALARM", 7.0, **RATE),
    item("alert#api_error_rate#orders-api", "2026-11-21T00:00:00+00:00", "ALARM", 9.0, **RATE),  # the next day
    item("slo#api_availability#page#orders-api", "2026-11-20T00:00:00+00:00", "ALARM", 20.0, "ALARM", **PAGE),
    item("slo#api_availability#page#orders-api", "2026-11-20T00:05:00+00:00", "ALARM", 16.0, "ALARM", **PAGE),
    item("slo#api_availability#page#orders-api", "2026-11-20T00:10:00+00:00", "OK", 3.0, "ALARM", **PAGE),
]


def test_report_values_match_the_hand_computation():
    report = build_report(two_days(), EVALUATIONS, DAY, END, datetime(2026, 11, 21, 0, 30, tzinfo=UTC))
    by_slo = {(a.slo_id, a.resource): a for a in report.attainment}
    assert set(by_slo) == {("api_availability", API), ("api_latency", API)}  # no Lambda data: no row

    availability = by_slo[("api_availability", API)]
    assert (availability.good, availability.total) == (288_000 - 90, 288_000)
    assert availability.attainment == pytest.approx(100 * (1 - 90 / 288_000))  # 99.96875 %
    assert availability.met is True
    # The 30-day budget reaches back over both days: 190 bad of 576,000, ratio / 0.001 = 0.3299 spent.
    assert availability.budget_remaining == pytest.approx(1 - 190 / 576_000 / 0.001)
    assert availability.budget_windows == 576

    latency = by_slo[("api_latency", API)]
    assert (latency.good, latency.total) == (286, 288)
    assert latency.attainment == pytest.approx(100 * 286 / 288)  # 99.31 % >= 99
    assert latency.met is True
    assert latency.budget_remaining == pytest.approx(1 - 2 / 576 / 0.01)

    assert [(i.kind, i.name, i.start, i.end, i.peak, i.began_before, i.still_open) for i in report.incidents] == [
        ("burn_rate", "api_availability page", DAY, DAY + 2 * WINDOW, 20.0, True, False),
        ("threshold", "api_error_rate", DAY + 100 * WINDOW, DAY + 102 * WINDOW, 8.0, False, False),
        ("threshold", "api_error_rate", DAY + 287 * WINDOW, END, 7.0, False, True),
    ]
    assert report.incidents[1].duration == timedelta(minutes=10)

    assert [(w.slo_id, w.window_start, w.value, w.bad) for w in report.worst_windows] == [
        ("api_availability", DAY + 100 * WINDOW, 0.05, 50.0),
        ("api_availability", DAY + 101 * WINDOW, 0.03, 30.0),
        ("api_availability", DAY + 102 * WINDOW, 0.01, 10.0),
        ("api_latency", DAY + 200 * WINDOW, 1500.0, 1.0),
        ("api_latency", DAY + 201 * WINDOW, 1200.0, 1.0),
    ]
    (availability_series, _) = report.series
    assert len(availability_series.burn_rates) == 288
    assert availability_series.burn_rates[100] == pytest.approx(0.05 / 0.001)  # 50 of 1,000: burn 50
    assert availability_series.burn_rates[0] == 0.0


def test_the_page_shows_the_tables_and_an_inline_chart():
    report = build_report(two_days(), EVALUATIONS, DAY, END, datetime(2026, 11, 21, 0, 30, tzinfo=UTC))
    page = render_html(report, "dev")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg ") == 2 and "<script" not in page
    assert '<td class="num good">99.969 %</td>' in page  # 100 * (1 - 90 / 288,000)
    assert '<td class="num">67.0 %</td>' in page  # budget left 1 - 0.32986
    assert '2026-11-20 08:20</td><td>2026-11-20 08:30</td><td class="num">10 min</td><td class="num">8</td>' in page
    assert "(from the day before)" in page and "(still open)" in page


def test_a_bad_report_period_is_refused():
    with pytest.raises(ValueError, match="not a positive whole number of 5-minute windows"):
        build_report(two_days(), [], DAY, DAY + timedelta(minutes=7), DAY)


@pytest.fixture
def reports_bucket(aws) -> str:
    aws.session.client("s3").create_bucket(Bucket="cw-analytics-dev-reports")
    return "cw-analytics-dev-reports"


def test_the_daily_asset_maps_a_day_onto_its_windows_and_writes_the_report_to_s3(
    aws, settings, reports_bucket, tmp_path
):
    publish_outage(aws)
    the_next_day = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # 2026-11-20 has ended: its partition exists
    with_bucket = dataclasses.replace(settings, reports_bucket=reports_bucket)
    defs = build_definitions(with_bucket, the_next_day, work_dir=str(tmp_path), fixed_clock=COLLECTED_AT)
    run_windows(defs, WINDOWS)

    graph = defs.resolve_asset_graph()
    report_key, aggregates_key = AssetKey("slo_daily_report"), AssetKey("metric_aggregates")
    upstream = graph.get(report_key).partition_mappings[aggregates_key]
    mapped = upstream.get_upstream_mapped_partitions_result_for_partitions(
        graph.get(report_key).partitions_def.subset_with_partition_keys(["2026-11-20"]),
        graph.get(report_key).partitions_def,
        graph.get(aggregates_key).partitions_def,
    ).partitions_subset.get_partition_keys()
    assert (len(list(mapped)), min(mapped), max(mapped)) == (288, "2026-11-20-00:00", "2026-11-20-23:55")

    result = defs.resolve_job_def("slo_report_job").execute_in_process(
        partition_key="2026-11-20", instance=DagsterInstance.ephemeral()
    )
    assert result.success
    body = aws.session.client("s3").get_object(Bucket=reports_bucket, Key="slo-reports/2026-11-20.html")
    page = body["Body"].read().decode()
    # 400 bad of 14,000 requests: attainment 97.143 %, budget 1 - 0.02857 / 0.001 = -2757.1 %.
    assert "97.143 %" in page and "-2757.1 %" in page
    # The page was on in W6-W12 (12:30 .. 13:05); its peak is W7's 1 h burn, 400 / 8,000 / 0.001 = 50, and the
    # threshold shown is the row that fired first (1 h / 5 min, 14.4). The ticket stays on to W13's end.
    assert (
        "api_availability page</td><td>orders-api</td><td>2026-11-20 12:30</td><td>2026-11-20 13:05</td>"
        '<td class="num">35 min</td><td class="num">50</td><td class="num">14.4</td>'
    ) in page
    assert (
        "api_availability ticket</td><td>orders-api</td><td>2026-11-20 12:30</td><td>2026-11-20 13:10</td>"
        '<td class="num">40 min</td><td class="num">50</td><td class="num">1</td>'
    ) in page
    (materialization,) = result.asset_materializations_for_node("slo_daily_report")
    assert materialization.metadata["location"].value == f"s3://{reports_bucket}/slo-reports/2026-11-20.html"
    assert materialization.metadata["incidents"].value == 3  # api_error_rate, the page, the ticket


def test_without_a_bucket_the_report_goes_to_the_reports_directory(aws, settings, tmp_path):
    publish_outage(aws)
    the_next_day = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    local = dataclasses.replace(settings, reports_dir=str(tmp_path / "reports"))
    defs = build_definitions(local, the_next_day, work_dir=str(tmp_path / "frames"), fixed_clock=COLLECTED_AT)
    run_windows(defs, WINDOWS)
    defs.resolve_job_def("slo_report_job").execute_in_process(partition_key="2026-11-20")
    page = (tmp_path / "reports" / "slo-reports" / "2026-11-20.html").read_text()
    assert "97.143 %" in page


def test_the_demo_writes_the_report_of_any_period_outside_dagster(aws, settings, pipeline, tmp_path):
    publish_outage(aws)
    run_windows(pipeline, WINDOWS)
    local = dataclasses.replace(settings, reports_dir=str(tmp_path / "demo"))
    location = report_from_settings(local, WINDOWS[0].start, WINDOWS[-1].end, COLLECTED_AT)
    assert location == str(tmp_path / "demo" / "slo-reports" / "2026-11-20.html")
    page = (tmp_path / "demo" / "slo-reports" / "2026-11-20.html").read_text()
    assert "2026-11-20 12:00 .. 2026-11-20 13:10 UTC" in page and "97.143 %" in page


def test_a_day_without_data_still_gives_a_page_that_says_so():
    report = build_report(aggregates_from_items([]), [], DAY, END, END)
    assert (report.attainment, report.incidents, report.worst_windows, report.series) == ((), (), (), ())
    page = render_html(report, "dev")
    assert "No SLO had data in this period." in page and "No rule and no SLO severity was in ALARM." in page
