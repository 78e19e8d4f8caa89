"""SLO burn-rate alarms: composite alarms whose pairs of metric-math alarms carry the SRE workbook's numbers.

Every expected number is written here from the workbook's table and the issue's objectives, never read back
from cw_pipeline.slos: page at 14.4 over 1 h and 5 min, page at 6 over 6 h and 30 min, ticket at 1 over
3 d and 6 h; availability and Lambda success 99.9 %, latency 99 % of windows with p95 <= 1000 ms.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from cw_pipeline.catalog import Service
from cw_pipeline.slos import BurnRatePolicy, Severity, WindowSLO
from infra_cdk.sections.slo_alarms import bad_windows_to_alarm, encodable
from tests.infra.cdk_template import one, ref, resources

HOUR = 3600
WORKBOOK = {  # severity -> {(long window s, short window s, burn rate)}
    "page": {(1 * HOUR, 300, 14.4), (6 * HOUR, 1800, 6)},
    "ticket": {(72 * HOUR, 6 * HOUR, 1)},
}
EVENT_SLOS = {  # composite-name part -> (expected burn-rate expression, namespace, {metric id: metric name})
    "api-availability": (
        "IF(request_count > 0, (FILL(errors_5xx, 0)) / request_count, 0) / (1 - 99.9 / 100)",
        "AWS/ApiGateway",
        {"request_count": "Count", "errors_5xx": "5XXError"},
    ),
    "lambda-success": (
        "IF(invocations > 0, (FILL(errors, 0)) / invocations, 0) / (1 - 99.9 / 100)",
        "AWS/Lambda",
        {"invocations": "Invocations", "errors": "Errors"},
    ),
}
PAIR = re.compile(r'\(ALARM\("([^"]+)"\) AND ALARM\("([^"]+)"\)\)')


def _composite(template: dict, name: str) -> dict:
    return one(template, "AWS::CloudWatch::CompositeAlarm", AlarmName=f"cw-analytics-dev-alarm-slo-{name}")[1]


def _pairs(template: dict, composite: dict) -> list[tuple[dict, dict]]:
    """The (long, short) metric alarms of a composite's rule ``(ALARM(a) AND ALARM(b)) OR ...``."""
    rule = "".join(part if isinstance(part, str) else ref(part) for part in composite["AlarmRule"]["Fn::Join"][1])
    found = PAIR.findall(rule)
    assert rule == "(" + " OR ".join(f'(ALARM("{a}") AND ALARM("{b}"))' for a, b in found) + ")", rule
    alarms = template["Resources"]
    pairs = []
    for first, second in found:
        one_alarm, other = alarms[first]["Properties"], alarms[second]["Properties"]
        pairs.append(tuple(sorted((one_alarm, other), key=_window_seconds, reverse=True)))
    return pairs


def _window_seconds(alarm: dict) -> int:
    """How much time one evaluation of the alarm covers: period x evaluation periods."""
    (period,) = {m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m}
    return period * alarm["EvaluationPeriods"]


def _expression(alarm: dict) -> str:
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["ReturnData"] is True
    return expression["Expression"]


def test_one_composite_alarm_per_slo_and_severity_notifies_the_topic(dev_json: dict) -> None:
    composites = resources(dev_json, "AWS::CloudWatch::CompositeAlarm")
    assert {c["AlarmName"] for c in composites.values()} == {
        "cw-analytics-dev-alarm-slo-api-availability-page",
        "cw-analytics-dev-alarm-slo-api-availability-ticket",
        "cw-analytics-dev-alarm-slo-lambda-success-page",
        "cw-analytics-dev-alarm-slo-lambda-success-ticket",
        # No latency ticket: its 3 d long window would be 864 five-minute periods, over CloudWatch's one day.
        "cw-analytics-dev-alarm-slo-api-latency-page",
    }
    topic_id, _ = one(dev_json, "AWS::SNS::Topic")
    for composite in composites.values():
        assert [ref(a) for a in composite["AlarmActions"]] == [topic_id]
        assert [ref(a) for a in composite["OKActions"]] == [topic_id]
    # The per-window alarms stay silent: a short window alone is the blip the pair exists to ignore.
    window_alarms = [a for a in resources(dev_json, "AWS::CloudWatch::Alarm").values() if "-slo-" in a["AlarmName"]]
    assert len(window_alarms) == 2 * 3 * 2 + 2 * 2  # two event SLOs x 3 rows x 2 windows + latency's 2 page rows
    for alarm in window_alarms:
        assert not alarm.get("AlarmActions") and not alarm.get("OKActions")


@pytest.mark.parametrize("slo_name", sorted(EVENT_SLOS))
@pytest.mark.parametrize("severity", sorted(WORKBOOK))
def test_event_slo_pairs_carry_the_workbooks_windows_and_burn_rates(dev_json: dict, slo_name, severity) -> None:
    expression, namespace, metric_names = EVENT_SLOS[slo_name]
    pairs = _pairs(dev_json, _composite(dev_json, f"{slo_name}-{severity}"))
    encoded = set()
    for long, short in pairs:
        for alarm in (long, short):
            assert _expression(alarm) == expression
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"  # strictly above, as the pipeline
            assert alarm["EvaluationPeriods"] == 1 and alarm["DatapointsToAlarm"] == 1
            assert alarm["TreatMissingData"] == "missing"
            stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
            assert {i: s["Metric"]["MetricName"] for i, s in stats.items()} == metric_names
            assert {s["Metric"]["Namespace"] for s in stats.values()} == {namespace}
            assert {s["Stat"] for s in stats.values()} == {"Sum"}
        assert long["Threshold"] == short["Threshold"]
        encoded.add((_window_seconds(long), _window_seconds(short), long["Threshold"]))
    assert encoded == WORKBOOK[severity]


def test_latency_pairs_count_bad_windows_against_the_workbooks_burn_rates(dev_json: dict) -> None:
    pairs = _pairs(dev_json, _composite(dev_json, "api-latency-page"))
    shapes = set()
    for long, short in pairs:
        for alarm in (long, short):
            assert _expression(alarm) == "IF(latency_p95_ms > 1000, 1, 0)"
            (stat,) = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
            assert stat["Metric"]["MetricName"] == "Latency" and stat["Stat"] == "p95" and stat["Period"] == 300
            assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
            assert alarm["TreatMissingData"] == "notBreaching"
        shapes.add(
            (
                (long["EvaluationPeriods"], long["DatapointsToAlarm"]),
                (short["EvaluationPeriods"], short["DatapointsToAlarm"]),
            )
        )
    # A window of N five-minute periods alarms when its bad windows exceed burn x (1 - 0.99) x N:
    # 1 h at 14.4: 12 periods, 14.4 x 0.01 x 12 = 1.728 -> 2 bad; 5 min: 1 period, 0.144 -> 1 bad.
    # 6 h at 6: 72 periods, 6 x 0.01 x 72 = 4.32 -> 5 bad; 30 min: 6 periods, 0.36 -> 1 bad.
    assert shapes == {((12, 2), (1, 1)), ((72, 5), (6, 1))}


def _dashboard_widgets(template: dict) -> list[dict]:
    _, dashboard = one(template, "AWS::CloudWatch::Dashboard")
    parts = dashboard["DashboardBody"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "ref" for p in parts))["widgets"]


def test_dashboard_shows_the_error_budget_left(dev_json: dict) -> None:
    widgets = {w["properties"].get("title"): w["properties"] for w in _dashboard_widgets(dev_json)}
    budget = widgets["api_availability: error budget left, last 30d (%)"]
    assert budget["view"] == "singleValue" and budget["setPeriodToTimeRange"] is True and budget["start"] == "-P30D"
    (expression,) = [m[0] for m in budget["metrics"] if isinstance(m[0], dict) and "expression" in m[0]]
    # 100 x (1 - burn rate over the 30 days): the share of the budget not yet spent.
    assert expression["expression"] == (
        "100 * (1 - IF(request_count > 0, (FILL(errors_5xx, 0)) / request_count, 0) / (1 - 99.9 / 100))"
    )
    assert expression["period"] == 30 * 24 * HOUR
    assert "lambda_success: error budget left, last 30d (%)" in widgets
    latency = widgets["api_latency: bad 5-minute windows over the last 24 h"]
    assert latency["metrics"][0][0]["expression"] == "RUNNING_SUM(IF(latency_p95_ms > 1000, 1, 0))"
    # 1 % of a day's 288 windows.
    assert latency["annotations"]["horizontal"][0]["value"] == pytest.approx(2.88)
    assert len(widgets["SLO burn-rate alerts"]["alarms"]) == 5


def test_a_whole_number_of_allowed_bad_windows_is_not_enough_to_alarm() -> None:
    slow = WindowSLO("slow", Service.APIGATEWAY, 99.0, "latency_p95_ms", 1000.0, "test")
    # 100 periods at burn 1 against a 1 % budget allow exactly 1 bad window; alarming takes more: 2.
    policy = BurnRatePolicy("p", Severity.TICKET, timedelta(minutes=500), timedelta(minutes=50), 1.0, 0.01)
    assert bad_windows_to_alarm(slow, policy, policy.long_window) == (2, 100)
    assert bad_windows_to_alarm(slow, policy, policy.short_window) == (1, 10)  # 0.1 allowed -> 1
    assert encodable(slow, policy)
    three_days = BurnRatePolicy("t", Severity.TICKET, timedelta(days=3), timedelta(hours=6), 1.0, 0.1)
    assert not encodable(slow, three_days)  # 864 five-minute periods: over CloudWatch's one day
