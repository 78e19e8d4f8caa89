"""Burn rates over small scripted aggregates, every expected number worked out by hand in the test.

The API serves 1,000 requests per 5-minute window. Its availability objective is 99.9 %, so the
error budget is 0.1 % and a burn rate is the error ratio divided by 0.001. Every scenario starts
with three clean days, so that each long window (up to 3 days) is full of history.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from cw_pipeline.aggregation import aggregate
from cw_pipeline.burn_rate import (
    error_budget_remaining,
    evaluate_burn_rates,
    history_start,
    severity_states,
    window_events,
)
from cw_pipeline.catalog import Service
from cw_pipeline.config import MonitoredResource
from cw_pipeline.slos import POLICIES, EventSLO, WindowSLO, slo
from cw_pipeline.thresholds import rule
from cw_pipeline.windows import Window

START = datetime(2026, 11, 20, tzinfo=UTC)
FIVE = timedelta(minutes=5)
CLEAN_3D = [(1000, 0)] * (3 * 24 * 12)  # 864 windows of 1,000 requests and no 5XX
AVAILABILITY = slo("api_availability")
PAGE_FAST, PAGE_SLOW, TICKET = POLICIES


def api(traffic: list[tuple[int, int]], p95: list[float] | None = None) -> pd.DataFrame:
    """API aggregates from ``(request_count, errors_5xx)`` per window, consecutive from START."""
    p95 = p95 or [200.0] * len(traffic)
    return pd.DataFrame(
        {
            "service": "apigateway",
            "resource": "orders-api",
            "window_start": pd.to_datetime([START + i * FIVE for i in range(len(traffic))], utc=True),
            "request_count": [float(r) for r, _ in traffic],
            "errors_5xx": [float(e) for _, e in traffic],
            "latency_p95_ms": p95,
        }
    )


def incident_windows(count: int) -> list[Window]:
    return [Window(START + (len(CLEAN_3D) + i) * FIVE) for i in range(count)]


def states(frame: pd.DataFrame, policy: str) -> list[str]:
    return list(frame[(frame["slo_id"] == "api_availability") & (frame["policy"] == policy)]["state"])


def test_a_fast_burn_pages_within_the_1h_5min_pair():
    # 2 % of requests fail (20 of 1,000): burn rate 0.02 / 0.001 = 20 from the first failing window.
    evaluations = evaluate_burn_rates(api(CLEAN_3D + [(1000, 20)] * 12), incident_windows(12))
    fast = evaluations[(evaluations["slo_id"] == "api_availability") & (evaluations["policy"] == "page_fast")]
    # After k failing windows the last hour holds 20k bad of 12,000: burn 20k / 12,000 / 0.001.
    assert list(fast["long_burn_rate"]) == pytest.approx([20 * k / 12_000 / 0.001 for k in range(1, 13)])
    assert list(fast["short_burn_rate"]) == pytest.approx([20.0] * 12)
    # 8 windows: 13.3 (not above 14.4); 9 windows: 15 -> page, 45 minutes into the incident.
    assert list(fast["state"]) == ["OK"] * 8 + ["ALARM"] * 4
    # The 6 h pair sees 20k / 72,000 / 0.001 <= 3.3 and the 3 d pair <= 0.28: neither fires.
    assert states(evaluations, "page_slow") == ["OK"] * 12
    assert states(evaluations, "ticket") == ["OK"] * 12
    by_severity = severity_states(evaluations)
    page = by_severity[(by_severity["slo_id"] == "api_availability") & (by_severity["severity"] == "page")]
    assert list(page["state"]) == ["OK"] * 8 + ["ALARM"] * 4
    assert list(page["policy"])[8:] == ["page_fast"] * 4


def test_a_slow_burn_only_tickets():
    # 0.15 % of requests fail (3 of 2,000): burn rate 1.5, above the ticket's 1, below both pages.
    evaluations = evaluate_burn_rates(api(CLEAN_3D + [(2000, 3)] * 600), incident_windows(600))
    ticket = evaluations[(evaluations["slo_id"] == "api_availability") & (evaluations["policy"] == "ticket")]
    # The 3 d window after k failing windows holds 3k bad of (864 - k) x 1,000 + k x 2,000 requests. Its burn
    # is above 1 once 3k > 864 + k, i.e. k > 432: at k = 432 it is exactly 1 (not above), from k = 433 it tickets.
    assert list(ticket["state"]) == ["OK"] * 432 + ["ALARM"] * 168
    at_432, at_433 = ticket.iloc[431], ticket.iloc[432]
    assert (at_432["long_bad"], at_432["long_total"]) == (1296, 1_296_000)
    assert at_432["long_burn_rate"] == 1.0
    assert (at_433["long_bad"], at_433["long_total"]) == (1299, 1_297_000)
    assert at_433["long_burn_rate"] == pytest.approx(1299 / 1_297_000 / 0.001)
    assert at_433["short_burn_rate"] == pytest.approx(1.5)
    assert set(states(evaluations, "page_fast")) == {"OK"}
    assert set(states(evaluations, "page_slow")) == {"OK"}


def test_a_short_blip_does_not_page():
    # One window with 10 % errors, then clean again.
    aggregates = api(CLEAN_3D + [(1000, 100)] + [(1000, 0)] * 12)
    evaluations = evaluate_burn_rates(aggregates, incident_windows(13))
    blip_start = pd.Timestamp(incident_windows(1)[0].start)
    of_blip = (evaluations["slo_id"] == "api_availability") & (evaluations["window_start"] == blip_start)
    at_blip = evaluations[of_blip].set_index("policy")
    # The 5-minute window burns at 100 / 1,000 / 0.001 = 100, but the hour only at 100 / 12,000 / 0.001 = 8.3.
    assert at_blip.loc["page_fast", "short_burn_rate"] == pytest.approx(100.0)
    assert at_blip.loc["page_fast", "long_burn_rate"] == pytest.approx(100 / 12_000 / 0.001)
    # 6 h: 100 / 72,000 / 0.001 = 1.4 < 6; 3 d: 100 / 864,000 / 0.001 = 0.12 < 1.
    assert at_blip.loc["page_slow", "long_burn_rate"] == pytest.approx(100 / 72_000 / 0.001)
    assert at_blip.loc["ticket", "long_burn_rate"] == pytest.approx(100 / 864_000 / 0.001)
    assert set(evaluations["state"]) == {"OK"}
    # The static 5 % error-rate rule would have fired on that same window.
    assert rule("api_error_rate").evaluate(100 * 100 / 1000) == "ALARM"


def test_a_medium_burn_pages_through_the_6h_30min_pair():
    # 1 % errors: burn 10, under the fast page's 14.4, over the slow page's 6.
    evaluations = evaluate_burn_rates(api(CLEAN_3D + [(1000, 10)] * 48), incident_windows(48))
    # 6 h window after k windows: 10k / 72,000 / 0.001 > 6 from k = 44 (43.2 is the break-even).
    assert states(evaluations, "page_slow") == ["OK"] * 43 + ["ALARM"] * 5
    assert set(states(evaluations, "page_fast")) == {"OK"}
    by_severity = severity_states(evaluations)
    page = by_severity[(by_severity["slo_id"] == "api_availability") & (by_severity["severity"] == "page")]
    assert list(page["state"]) == ["OK"] * 43 + ["ALARM"] * 5
    assert list(page["policy"])[43:] == ["page_slow"] * 5
    assert len(by_severity[by_severity["slo_id"] == "api_availability"]) == 48 * 2  # page and ticket


def test_latency_counts_bad_windows_over_windows_with_data():
    # p95 per window: 8 good, 2 slow, 1 without a value; the 12th window has no aggregate row at all.
    p95 = [400.0] * 8 + [1500.0, 1200.0, math.nan, 300.0]
    aggregates = api([(1000, 0)] * 12, p95).drop(index=11)
    evaluations = evaluate_burn_rates(aggregates, [Window(START + i * FIVE) for i in range(12)])
    fast = evaluations[(evaluations["slo_id"] == "api_latency") & (evaluations["policy"] == "page_fast")]
    fast = fast.set_index(fast["window_start"].map(lambda t: int((t - pd.Timestamp(START)) / FIVE)))
    # Objective 99 %: budget 0.01. Window 8 (first slow one): 1 bad of 9 windows with data -> burn 11.1.
    assert fast.loc[8, "long_burn_rate"] == pytest.approx(1 / 9 / 0.01)
    assert fast.loc[8, "state"] == "OK"
    # Window 9: 2 bad of 10 -> burn 20; its own window is bad -> short burn 1 / 1 / 0.01 = 100: page.
    assert fast.loc[9, "long_burn_rate"] == pytest.approx(20.0)
    assert fast.loc[9, "short_burn_rate"] == pytest.approx(100.0)
    assert fast.loc[9, "state"] == "ALARM"
    # Windows 10 and 11 have no value: still 2 bad of 10 in the hour, but the short window is empty.
    assert fast.loc[10, "long_burn_rate"] == pytest.approx(20.0)
    assert math.isnan(fast.loc[10, "short_burn_rate"])
    assert list(fast.loc[10:11, "state"]) == ["OK", "OK"]


def test_zero_traffic_and_missing_data_through_the_real_aggregates():
    resources = [MonitoredResource(Service.APIGATEWAY, "orders-api")]
    windows = [Window(START + i * FIVE) for i in range(14)]
    # CloudWatch answered only in window 0 (50 of 1,000 failed); after that the API was idle.
    datapoints = pd.DataFrame(
        [
            ("apigateway", "orders-api", "request_count", pd.Timestamp(START), 1000.0),
            ("apigateway", "orders-api", "errors_5xx", pd.Timestamp(START), 50.0),
            ("apigateway", "orders-api", "latency_p95_ms", pd.Timestamp(START), 900.0),
        ],
        columns=["service", "resource", "attribute", "window_start", "value"],
    )
    aggregates = aggregate(datapoints, resources, windows)
    fast = evaluate_burn_rates(aggregates, slos=[AVAILABILITY, slo("api_latency")], policies=[PAGE_FAST])
    availability = fast[fast["slo_id"] == "api_availability"]
    # Idle windows count zero events: the hour still holds 50 / 1,000 (burn 50) until window 0 leaves it,
    # but the idle 5-minute window has no events, so the pair does not fire.
    assert list(availability["long_burn_rate"])[:12] == pytest.approx([50.0] * 12)
    assert list(availability["state"]) == ["ALARM"] + ["OK"] * 11 + ["INSUFFICIENT_DATA"] * 2
    latency = fast[fast["slo_id"] == "api_latency"]
    assert list(latency["state"]) == ["OK"] * 12 + ["INSUFFICIENT_DATA"] * 2
    events = window_events(aggregates, slo("api_latency"))
    # Window 0 is one good window (900 <= 1000); window 1 has no p95 at all: no event, not a good one.
    assert (events["bad"].iloc[0], events["total"].iloc[0]) == (0.0, 1.0)
    assert math.isnan(events["total"].iloc[1]) and math.isnan(events["bad"].iloc[1])


def test_error_budget_remaining_over_the_compliance_period():
    half_hour = EventSLO("half_hour", Service.APIGATEWAY, 99.9, "request_count", ("errors_5xx",), "test",
                         compliance_period=timedelta(minutes=30))  # fmt: skip
    aggregates = api([(1000, 5), (1000, 5), (1000, 0), (1000, 1), (0, 0), (1000, 0), (1000, 0), (1000, 1)])
    budget = error_budget_remaining(aggregates, half_hour, Window(START + 7 * FIVE)).set_index("resource")
    # Windows 2-7 are the last 30 minutes: 2 bad of 5,000 -> ratio 0.0004 -> 1 - 0.0004 / 0.001 = 0.6 left.
    assert budget.loc["orders-api", "bad"] == 2 and budget.loc["orders-api", "total"] == 5000
    assert budget.loc["orders-api", "budget_remaining"] == pytest.approx(0.6)

    slow = WindowSLO("slow", Service.APIGATEWAY, 99.0, "latency_p95_ms", 1000.0, "test", timedelta(minutes=30))
    p95 = [2000.0, 500.0, math.nan, 1500.0, 500.0, 500.0, 500.0]
    latency = error_budget_remaining(api([(1000, 0)] * 7, p95), slow, Window(START + 6 * FIVE)).set_index("resource")
    # Windows 1-6: 5 with a value, 1 bad -> ratio 0.2 -> 1 - 0.2 / 0.01 = -19: overspent nineteen times.
    assert latency.loc["orders-api", "windows_with_data"] == 5
    assert latency.loc["orders-api", "budget_remaining"] == pytest.approx(-19.0)

    idle = error_budget_remaining(api([(0, 0)] * 3), AVAILABILITY, Window(START + 2 * FIVE))
    assert math.isnan(idle["budget_remaining"].iloc[0])


def test_history_reaches_back_one_longest_window():
    first = Window(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    # 3 days of windows ending with the first evaluated one: it is the 864th.
    assert history_start(first) == datetime(2026, 11, 22, 12, 5, tzinfo=UTC)
    assert history_start(first, [PAGE_FAST]) == datetime(2026, 11, 25, 11, 5, tzinfo=UTC)


def test_a_frame_without_window_starts_is_refused():
    with pytest.raises(ValueError, match=r"needs aggregate columns \['window_start'\]"):
        evaluate_burn_rates(api(CLEAN_3D[:3]).drop(columns=["window_start"]))


def test_an_slo_without_rows_of_its_service_evaluates_nothing():
    evaluations = evaluate_burn_rates(api(CLEAN_3D[:3]), slos=[slo("lambda_success")])
    assert evaluations.empty and "state" in evaluations.columns
