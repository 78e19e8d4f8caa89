"""The demo's plan, report and chart layout, without the emulator (tests/e2e/test_demo_path.py runs it whole).

Expected columns, panels, events and report lines are written out by hand here: they are what a reader of
the catalog and the rules table should see, not what the code happens to produce.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cw_local.demo.chart import PANELS
from cw_local.demo.plan import make_plan
from cw_local.demo.readback import Stored
from cw_local.demo.report import DemoResult, aggregate_columns, render_report
from cw_local.fakes import ApiCall, ApiCalls
from cw_local.workload import Resources
from cw_pipeline.catalog import Service
from cw_pipeline.config import Settings
from cw_pipeline.thresholds import RULES

NOW = datetime(2026, 11, 20, 14, 2, 30, tzinfo=UTC)


def test_the_plan_ends_at_the_newest_settled_window_with_the_incident_in_the_middle():
    plan = make_plan(NOW, hours=1, incident_minutes=10, settle_seconds=120)
    # 14:02:30 - 120 s = 14:00:30, floored to 14:00; one hour back; the middle 13:30 minus 5 minutes.
    assert (plan.start, plan.end) == (
        datetime(2026, 11, 20, 13, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 14, 0, tzinfo=UTC),
    )
    assert (plan.incident.start, plan.incident.end) == (
        datetime(2026, 11, 20, 13, 25, tzinfo=UTC),
        datetime(2026, 11, 20, 13, 35, tzinfo=UTC),
    )
    assert len(plan.windows) == 12
    assert plan.backfill_event() == {"backfill": {"start": "2026-11-20T13:00:00Z", "end": "2026-11-20T13:55:00Z"}}
    assert plan.scheduled_event() == {"scheduled_time": "2026-11-20T14:02:30Z"}


def test_one_chart_panel_per_rule_with_every_statistic_of_its_metric():
    assert [(p.rule.rule_id, p.title, [attribute for attribute, _ in p.series], p.unit) for p in PANELS] == [
        ("api_latency_avg", "AWS/ApiGateway Latency",
         ["latency_avg_ms", "latency_p95_ms", "latency_p99_ms", "latency_max_ms"], "Milliseconds"),
        ("api_error_rate", "AWS/ApiGateway 100 * (4XXError + 5XXError) / Count", ["error_rate_pct"], "Percent"),
        ("lambda_errors", "AWS/Lambda Errors", ["errors"], "Count"),
        ("lambda_duration_avg", "AWS/Lambda Duration",
         ["duration_avg_ms", "duration_p95_ms", "duration_p99_ms", "duration_max_ms"], "Milliseconds"),
        ("rds_cpu_avg", "AWS/RDS CPUUtilization", ["cpu_avg_pct", "cpu_max_pct"], "Percent"),
        ("rds_connections_max", "AWS/RDS DatabaseConnections", ["connections_avg", "connections_max"], "Count"),
    ]  # fmt: skip
    assert [label for _, label in PANELS[0].series] == ["Average", "p95", "p99", "Maximum"]


def test_aggregate_columns_are_the_counts_the_watched_metrics_and_the_ratios():
    assert aggregate_columns(Service.APIGATEWAY) == (
        "request_count", "errors_4xx", "errors_5xx",
        "latency_avg_ms", "latency_p95_ms", "latency_p99_ms", "latency_max_ms",
        "error_rate_pct",
    )  # fmt: skip
    assert aggregate_columns(Service.LAMBDA) == (
        "invocations", "errors", "throttles",
        "duration_avg_ms", "duration_p95_ms", "duration_p99_ms", "duration_max_ms",
        "error_rate_pct",
    )  # fmt: skip
    assert aggregate_columns(Service.RDS) == ("cpu_avg_pct", "cpu_max_pct", "connections_avg", "connections_max")


def _aggregate(service: str, window_start: str, **values: float) -> dict:
    return {"pk": f"{service}#x", "service": service, "window_start": window_start, **values}


def _evaluation(rule_id: str, window_start: str, state: str, previous_state: str) -> dict:
    return {
        "pk": f"alert#{rule_id}#x",
        "rule_id": rule_id,
        "window_start": window_start,
        "state": state,
        "previous_state": previous_state,
        "resource": "orders-db",
        "value": 91.5,
        "threshold": 80.0,
        "notified": True,
    }


def test_the_report_shows_the_aggregates_around_the_incident_and_the_calls_per_invocation():
    plan = make_plan(NOW, hours=1, incident_minutes=10, settle_seconds=120)  # incident 13:25-13:35
    items = [
        # Shown: from 15 minutes before the incident's start to 15 minutes after its end, exclusive.
        _aggregate("rds", "2026-11-20T13:05:00Z", cpu_avg_pct=30.0),
        _aggregate("rds", "2026-11-20T13:25:00Z", cpu_avg_pct=91.5, cpu_max_pct=93.0, connections_avg=120.4,
                   connections_max=131.0),
        _aggregate("rds", "2026-11-20T13:30:00Z", cpu_avg_pct=35.25, connections_avg=20.0, connections_max=24.0),
        _aggregate("rds", "2026-11-20T13:50:00Z", cpu_avg_pct=30.0),
        _evaluation("rds_cpu_avg", "2026-11-20T13:25:00Z", "ALARM", "OK"),
        _evaluation("rds_cpu_avg", "2026-11-20T13:30:00Z", "OK", "ALARM"),
    ]  # fmt: skip
    calls = ApiCalls({ApiCall("cloudwatch", "GetMetricData"): 1, ApiCall("dynamodb", "BatchWriteItem"): 3})
    calls.service_ids.update(cloudwatch="CloudWatch", dynamodb="DynamoDB")
    publish_calls = ApiCalls({ApiCall("cloudwatch", "PutMetricData"): 13})
    summary = {
        "trigger": "backfill",
        "windows": ["2026-11-20-13:00", "2026-11-20-13:55"],
        "aggregates_written": 6,
        "evaluations_written": 12,
        "notifications_sent": 2,
        "duration_ms": 900,
        "run_id": "0123456789abcdef",
    }
    resources = Resources.from_settings(
        Settings.from_env(
            {"CW_API_NAMES": "orders-api", "CW_FUNCTION_NAMES": "orders-fn", "CW_DB_INSTANCE_IDS": "orders-db"}
        )
    )
    result = DemoResult(plan, "http://127.0.0.1:1", resources, [summary], [calls], publish_calls,
                        Stored.from_items(items), [], None)  # fmt: skip

    report = render_report(result)

    assert "resources ApiName orders-api, FunctionName orders-fn, DBInstanceIdentifier orders-db" in report
    assert (
        "operation                 backfill\n"
        "------------------------  --------\n"
        "CloudWatch.GetMetricData         1\n"
        "DynamoDB.BatchWriteItem          3\n"
        "total                            4\n"
        "(publishing the workload beforehand: 13 PutMetricData calls)"
    ) in report
    assert (
        "Aggregates around the incident: rds#orders-db (DynamoDB; * = a rule in ALARM)\n"
        "window  cpu_avg_pct  cpu_max_pct  connections_avg  connections_max\n"
        "------  -----------  -----------  ---------------  ---------------\n"
        "13:25*         91.5           93            120.4              131\n"
        "13:30          35.2            -               20               24\n"
    ) in report
    assert (
        "Windows in ALARM per rule: "
        + ", ".join(f"{rule.rule_id} {1 if rule.rule_id == 'rds_cpu_avg' else 0}" for rule in RULES)
        in report
    )
