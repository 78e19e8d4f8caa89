"""Monitoring: the six alarms read from cw_pipeline.thresholds and catalog, aggregator alarms, the dashboard."""

from __future__ import annotations

import json

import pytest

from cw_pipeline.catalog import SERVICES, WhenMissing, metric_for_attribute, ratio_for_attribute
from cw_pipeline.thresholds import RULES
from cw_pipeline.windows import WINDOW_SECONDS
from tests.infra.cdk_template import one, ref, resources

DIMENSION_VALUES = {
    "apigateway": "cw-analytics-dev-api",
    "lambda": "cw-analytics-dev-api-handler",
    "rds": "cw-analytics-dev-db",
}


def _alarm(template: dict, rule_id: str, env: str = "dev") -> dict:
    return one(template, "AWS::CloudWatch::Alarm", AlarmName=f"cw-analytics-{env}-alarm-{rule_id.replace('_', '-')}")[1]


def test_six_rule_alarms_plus_aggregator_alarms(dev_json: dict) -> None:
    names = {a["AlarmName"] for a in resources(dev_json, "AWS::CloudWatch::Alarm").values()}
    assert len(RULES) == 6
    for rule in RULES:
        assert f"cw-analytics-dev-alarm-{rule.rule_id.replace('_', '-')}" in names
    assert {n for n in names if "aggregator" in n} >= {
        "cw-analytics-dev-alarm-aggregator-errors",
        "cw-analytics-dev-alarm-aggregator-dead-letters",
    }


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.rule_id)
def test_rule_alarm_matches_the_thresholds_table(dev_json: dict, rule) -> None:
    alarm = _alarm(dev_json, rule.rule_id)
    topic_id, _ = one(dev_json, "AWS::SNS::Topic")
    assert alarm["Threshold"] == rule.threshold
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"  # ThresholdRule.evaluate: value > threshold
    assert alarm["EvaluationPeriods"] == 1
    assert [ref(a) for a in alarm["AlarmActions"]] == [topic_id]
    assert [ref(a) for a in alarm["OKActions"]] == [topic_id]
    service = SERVICES[rule.service]
    try:
        spec = metric_for_attribute(rule.service, rule.attribute)
    except KeyError:
        spec = None
    if spec is not None:
        assert alarm["Namespace"] == service.namespace
        assert alarm["MetricName"] == spec.metric_name
        assert alarm.get("Statistic", alarm.get("ExtendedStatistic")) == spec.statistic
        assert alarm["Dimensions"] == [{"Name": service.dimension_name, "Value": DIMENSION_VALUES[rule.service.value]}]
        assert alarm["Period"] == WINDOW_SECONDS
        expected_missing = "notBreaching" if spec.when_missing == WhenMissing.ZERO else "missing"
        assert alarm["TreatMissingData"] == expected_missing
    else:
        ratio = ratio_for_attribute(rule.service, rule.attribute)
        metrics = alarm["Metrics"]
        (expression,) = [m for m in metrics if "Expression" in m]
        assert expression["ReturnData"] is True
        # Guarded against zero traffic: no division unless the denominator is above zero.
        assert expression["Expression"].startswith(f"IF(FILL({ratio.denominator}, 0) > 0")
        inputs = {m["Id"]: m["MetricStat"] for m in metrics if "MetricStat" in m}
        assert set(inputs) == {*ratio.numerators, ratio.denominator}
        for attribute, stat in inputs.items():
            source = metric_for_attribute(rule.service, attribute)
            assert stat["Metric"]["MetricName"] == source.metric_name
            assert stat["Metric"]["Namespace"] == service.namespace
            assert stat["Stat"] == source.statistic and stat["Period"] == WINDOW_SECONDS
            assert attribute in expression["Expression"]
        assert {source.metric_name for source in (metric_for_attribute(rule.service, a) for a in inputs)} == {
            "4XXError",
            "5XXError",
            "Count",
        }
        assert alarm["TreatMissingData"] == "notBreaching"


def test_aggregator_failures_alarm_to_the_topic(dev_json: dict) -> None:
    topic_id, _ = one(dev_json, "AWS::SNS::Topic")
    errors = _alarm(dev_json, "aggregator_errors")
    assert errors["MetricName"] == "Errors" and errors["Namespace"] == "AWS/Lambda"
    assert errors["Dimensions"][0]["Value"] == {
        "Ref": one(dev_json, "AWS::Lambda::Function", FunctionName="cw-analytics-dev-aggregator")[0]
    }
    assert errors["Threshold"] == 0 and errors["ComparisonOperator"] == "GreaterThanThreshold"
    dead_letters = _alarm(dev_json, "aggregator_dead_letters")
    assert dead_letters["Namespace"] == "AWS/SQS"
    stalled = _alarm(dev_json, "aggregator_stalled")
    assert stalled["MetricName"] == "Invocations" and stalled["TreatMissingData"] == "breaching"
    for alarm in (errors, dead_letters, stalled):
        assert [ref(a) for a in alarm["AlarmActions"]] == [topic_id]
        assert [ref(a) for a in alarm["OKActions"]] == [topic_id]


def _dashboard_body(template: dict) -> str:
    _, dashboard = one(template, "AWS::CloudWatch::Dashboard")
    assert dashboard["DashboardName"] == "cw-analytics-dev-dashboard"
    return json.dumps(dashboard["DashboardBody"])


@pytest.mark.parametrize(
    ("namespace", "metric", "stats"),
    [
        ("AWS/ApiGateway", "Count", ["Sum"]),
        ("AWS/ApiGateway", "4XXError", ["Sum"]),
        ("AWS/ApiGateway", "5XXError", ["Sum"]),
        ("AWS/ApiGateway", "Latency", ["Average", "p95", "p99"]),
        ("AWS/Lambda", "Invocations", ["Sum"]),
        ("AWS/Lambda", "Errors", ["Sum"]),
        ("AWS/Lambda", "Duration", ["Average"]),
        ("AWS/RDS", "CPUUtilization", ["Average"]),
        ("AWS/RDS", "DatabaseConnections", ["Maximum"]),
        ("AWS/RDS", "ReadLatency", ["Average"]),
        ("AWS/RDS", "WriteLatency", ["Average"]),
        ("AWS/RDS", "ReadThroughput", ["Average"]),
        ("AWS/RDS", "WriteThroughput", ["Average"]),
    ],
)
def test_dashboard_has_every_widget_the_seed_lists(
    dev_json: dict, namespace: str, metric: str, stats: list[str]
) -> None:
    body = _dashboard_body(dev_json).replace('\\"', '"')
    assert f'"{namespace}","{metric}"' in body
    for stat in stats:  # every line is labelled "<metric> <statistic>" from the catalog row
        assert f'"label":"{metric} {stat}' in body


def test_dashboard_shows_error_rates_aggregator_health_and_alarms(dev_json: dict) -> None:
    body = _dashboard_body(dev_json).replace('\\"', '"')
    assert "error_rate_pct" in body and "IF(FILL(request_count, 0) > 0" in body
    assert "Aggregator" in body and '"AWS/SQS","ApproximateNumberOfMessagesVisible"' in body
    assert '"alarms":[' in body
