"""The three assets against moto: known datapoints in, every stored attribute compared with hand values."""

from __future__ import annotations

import uuid
from decimal import Decimal

import botocore.client
import pytest
from botocore.exceptions import ClientError
from pipeline_support import W1, W2, minute, run_windows

from cw_local.provision import read_notifications
from cw_pipeline import naming
from cw_pipeline.outbox import NOTIFICATION_NAMESPACE

API, FUNCTION, DB = "orders-api", "orders-handler", "orders-db"


def put(aws, namespace, dimension, resource, metric, when, values, unit="None"):
    aws.put(namespace, dimension, resource, metric, when, values, unit)


def publish_known_workload(aws) -> None:
    """Window 1 has an incident; window 2 has light Lambda traffic only (API and RDS silent)."""
    api = lambda metric, when, values, unit="None": put(  # noqa: E731
        aws, "AWS/ApiGateway", "ApiName", API, metric, when, values, unit
    )
    fn = lambda metric, when, values, unit="None": put(  # noqa: E731
        aws, "AWS/Lambda", "FunctionName", FUNCTION, metric, when, values, unit
    )
    db = lambda metric, when, values, unit="None": put(  # noqa: E731
        aws, "AWS/RDS", "DBInstanceIdentifier", DB, metric, when, values, unit
    )
    api("Count", minute(W1, 0), [10], "Count")
    api("Count", minute(W1, 3), [20], "Count")
    api("4XXError", minute(W1, 1), [1], "Count")
    api("5XXError", minute(W1, 2), [2], "Count")
    api("Latency", minute(W1, 1), [float(v) for v in range(10, 110, 10)], "Milliseconds")
    api("Latency", minute(W1, 4, 59), [float(v) for v in range(110, 210, 10)], "Milliseconds")
    api("IntegrationLatency", minute(W1, 2), [50.0, 70.0], "Milliseconds")

    fn("Invocations", minute(W1, 0), [30], "Count")
    fn("Errors", minute(W1, 1), [12], "Count")
    fn("Duration", minute(W1, 2), [1000.0, 4000.0, 5000.0], "Milliseconds")
    fn("ConcurrentExecutions", minute(W1, 0), [3], "Count")
    fn("ConcurrentExecutions", minute(W1, 4), [7], "Count")
    fn("Invocations", minute(W2, 1), [10], "Count")
    fn("Duration", minute(W2, 1), [100.0], "Milliseconds")

    db("CPUUtilization", minute(W1, 0), [50.0], "Percent")
    db("CPUUtilization", minute(W1, 1), [90.0], "Percent")
    db("DatabaseConnections", minute(W1, 0), [120.0], "Count")
    db("DatabaseConnections", minute(W1, 1), [80.0], "Count")
    db("ReadLatency", minute(W1, 0), [0.002, 0.004], "Seconds")
    db("WriteLatency", minute(W1, 0), [0.010], "Seconds")
    db("ReadThroughput", minute(W1, 0), [1000.0, 3000.0], "Bytes/Second")
    db("WriteThroughput", minute(W1, 0), [500.0], "Bytes/Second")
    db("ReadIOPS", minute(W1, 0), [4.0, 6.0], "Count/Second")
    db("WriteIOPS", minute(W1, 0), [2.0], "Count/Second")
    db("FreeStorageSpace", minute(W1, 0), [5e9], "Bytes")
    db("FreeStorageSpace", minute(W1, 3), [4e9], "Bytes")
    # Outside both windows: must not leak into them.
    api("Count", minute(W2, 5), [1000], "Count")


def as_plain(item: dict) -> dict:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in item.items()}


COMMON_W1 = {"window_start": "2026-11-20T12:00:00Z", "window_end": "2026-11-20T12:05:00Z"}
EXPIRES_W1 = 1795176000 + 90 * 86400  # `date -u -d 2026-11-20T12:00:00Z +%s` + 90 days


def test_aggregates_match_hand_computed_values(aws, pipeline):
    publish_known_workload(aws)
    result = run_windows(pipeline, [W1, W2])
    assert result.success

    api = as_plain(aws.item(f"apigateway#{API}", "2026-11-20T12:00:00Z"))
    run_id = api.pop("run_id")
    assert run_id == result.run_id
    assert api == {
        "pk": f"apigateway#{API}",
        "sk": "2026-11-20T12:00:00Z",
        "service": "apigateway",
        "resource": API,
        **COMMON_W1,
        "collected_at": "2026-11-20T13:30:07Z",
        "expires_at": EXPIRES_W1,
        "request_count": 30,
        "errors_4xx": 1,
        "errors_5xx": 2,
        "error_rate_pct": 10.0,  # 100 * (1 + 2) / 30
        "latency_avg_ms": 105.0,  # mean of 10, 20, ..., 200
        "latency_p95_ms": 190.0,  # nearest rank: ceil(0.95 * 20) = 19th of 20 sorted samples
        "latency_p99_ms": 200.0,  # ceil(0.99 * 20) = 20th
        "latency_max_ms": 200.0,
        "integration_latency_avg_ms": 60.0,
    }

    fn = as_plain(aws.item(f"lambda#{FUNCTION}", "2026-11-20T12:00:00Z"))
    assert fn["invocations"] == 30 and fn["errors"] == 12 and fn["throttles"] == 0
    assert fn["error_rate_pct"] == pytest.approx(40.0)
    assert fn["duration_avg_ms"] == pytest.approx(10000.0 / 3)
    assert fn["duration_p95_ms"] == 5000.0 and fn["duration_p99_ms"] == 5000.0 and fn["duration_max_ms"] == 5000.0
    assert fn["concurrent_executions_max"] == 7

    db = as_plain(aws.item(f"rds#{DB}", "2026-11-20T12:00:00Z"))
    expected_db = {
        "cpu_avg_pct": 70.0,
        "cpu_max_pct": 90.0,
        "connections_avg": 100.0,
        "connections_max": 120.0,
        "read_latency_avg_ms": 3.0,  # 0.003 s
        "write_latency_avg_ms": 10.0,  # 0.010 s
        "read_throughput_bps": 2000.0,
        "write_throughput_bps": 500.0,
        "read_iops": 5.0,
        "write_iops": 2.0,
        "free_storage_min_bytes": 4e9,
    }
    assert {k: pytest.approx(v) for k, v in expected_db.items()} == {k: db[k] for k in expected_db}

    # Window 2: counts without datapoints are 0; rates over zero requests and latencies are absent.
    api2 = aws.item(f"apigateway#{API}", "2026-11-20T12:05:00Z")
    assert api2["request_count"] == 0 and api2["errors_4xx"] == 0 and api2["errors_5xx"] == 0
    for absent in ("error_rate_pct", "latency_avg_ms", "latency_p95_ms", "latency_p99_ms", "latency_max_ms"):
        assert absent not in api2
    db2 = aws.item(f"rds#{DB}", "2026-11-20T12:05:00Z")
    assert db2 is not None and not (set(db2) & set(expected_db))
    fn2 = as_plain(aws.item(f"lambda#{FUNCTION}", "2026-11-20T12:05:00Z"))
    assert fn2["invocations"] == 10 and fn2["errors"] == 0 and fn2["error_rate_pct"] == 0.0
    assert fn2["duration_avg_ms"] == 100.0

    aggregates = [i for i in aws.items() if naming.item_kind(i["pk"]) == naming.AGGREGATE]
    assert len(aggregates) == 6  # 3 resources x 2 windows


EXPECTED_STATES = {
    # rule_id: (resource, window-1 state, value, window-2 state)
    "api_latency_avg": (API, "OK", 105.0, "INSUFFICIENT_DATA"),
    "api_error_rate": (API, "ALARM", 10.0, "INSUFFICIENT_DATA"),
    "lambda_errors": (FUNCTION, "ALARM", 12.0, "OK"),
    "lambda_duration_avg": (FUNCTION, "ALARM", 10000.0 / 3, "OK"),
    "rds_cpu_avg": (DB, "OK", 70.0, "INSUFFICIENT_DATA"),
    "rds_connections_max": (DB, "ALARM", 120.0, "INSUFFICIENT_DATA"),
}


def test_evaluations_and_notifications(aws, pipeline):
    publish_known_workload(aws)
    result = run_windows(pipeline, [W1, W2])

    for rule_id, (resource, state1, value1, state2) in EXPECTED_STATES.items():
        first = as_plain(aws.item(f"alert#{rule_id}#{resource}", "2026-11-20T12:00:00Z"))
        assert first["state"] == state1 and first["previous_state"] == "INSUFFICIENT_DATA"
        assert first["value"] == pytest.approx(value1)
        assert first["notified"] is (state1 == "ALARM")
        assert first["evaluated_at"] == "2026-11-20T13:30:07Z" and first["expires_at"] == EXPIRES_W1
        second = aws.item(f"alert#{rule_id}#{resource}", "2026-11-20T12:05:00Z")
        assert second["state"] == state2 and second["previous_state"] == state1
        assert ("value" in second) is (state2 != "INSUFFICIENT_DATA")
        assert second["notified"] is (state1 == "ALARM" and state2 == "OK")

    notifications = read_notifications(aws.session, aws.resources.inbox_queue_url)
    sent = sorted((n["message"]["rule_id"], n["message"]["state"]) for n in notifications)
    # The SLOs burn too: in window 1, 2 of 30 requests fail (burn 0.0667 / 0.001 = 66.7) and 12 of 30
    # invocations (burn 400), over every long and short window: both page and ticket fire. The latency SLO's
    # one window with a p95 (190 ms) is good: OK, which is not notified. Details in test_slo_burn_rates.py.
    assert sent == [
        ("api_availability_page", "ALARM"),
        ("api_availability_ticket", "ALARM"),
        ("api_error_rate", "ALARM"),
        ("lambda_duration_avg", "ALARM"),
        ("lambda_duration_avg", "OK"),
        ("lambda_errors", "ALARM"),
        ("lambda_errors", "OK"),
        ("lambda_success_page", "ALARM"),
        ("lambda_success_ticket", "ALARM"),
        ("rds_connections_max", "ALARM"),
    ]
    rate = next(n for n in notifications if n["message"]["rule_id"] == "api_error_rate")
    # The id derivation documented in cw_pipeline/outbox.py: rule|resource|window|state|corrects|sequence.
    expected_id = str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"api_error_rate|{API}|2026-11-20T12:00:00Z|ALARM|-|0"))
    assert rate["attributes"] == {
        "source": "cw-pipeline",
        "rule_id": "api_error_rate",
        "state": "ALARM",
        "env": "dev",
        "kind": "transition",
        "notification_id": expected_id,
    }
    assert len({n["attributes"]["notification_id"] for n in notifications}) == len(sent) == 10  # one id each
    assert rate["message"] == {
        "rule_id": "api_error_rate",
        "service": "apigateway",
        "resource": API,
        "state": "ALARM",
        "previous_state": "INSUFFICIENT_DATA",
        "window_start": "2026-11-20T12:00:00Z",
        "window_end": "2026-11-20T12:05:00Z",
        "value": 10.0,
        "threshold": 5.0,
        "kind": "transition",
        "notification_id": expected_id,
    }
    assert rate["subject"] == f"[cw-analytics dev] ALARM api_error_rate: 10 vs 5 on {API}"

    checks = {
        c.check_name: c for c in result.get_asset_check_evaluations() if c.asset_key.path == ["alert_evaluations"]
    }
    assert {name for name, c in checks.items() if not c.passed} == {
        rule for rule, (_, s1, _, s2) in EXPECTED_STATES.items() if "ALARM" in (s1, s2)
    }
    assert checks["api_error_rate"].metadata["threshold"].value == 5.0


def test_rerun_is_idempotent_and_notifies_once(aws, pipeline):
    publish_known_workload(aws)
    run_windows(pipeline, [W1, W2])
    first_items = {(i["pk"], i["sk"]): {k: v for k, v in i.items() if k != "run_id"} for i in aws.items()}
    first_notifications = read_notifications(aws.session, aws.resources.inbox_queue_url)

    run_windows(pipeline, [W1, W2])
    run_windows(pipeline, [W2])  # the scheduled run's lookback re-reads a window on its own too
    second_items = {(i["pk"], i["sk"]): {k: v for k, v in i.items() if k != "run_id"} for i in aws.items()}

    assert second_items == first_items
    assert len(first_notifications) == 6 + 4  # threshold rules + SLO severities (test_evaluations_and_notifications)
    assert read_notifications(aws.session, aws.resources.inbox_queue_url) == []


def test_late_data_that_changes_a_state_notifies_the_new_transition(aws, pipeline):
    publish_known_workload(aws)
    run_windows(pipeline, [W1, W2])
    read_notifications(aws.session, aws.resources.inbox_queue_url)
    # Late CPU datapoints arrive for window 2: INSUFFICIENT_DATA becomes ALARM (previous window OK).
    put(aws, "AWS/RDS", "DBInstanceIdentifier", DB, "CPUUtilization", minute(W2, 3), [95.0], "Percent")
    run_windows(pipeline, [W1, W2])
    messages = [n["message"] for n in read_notifications(aws.session, aws.resources.inbox_queue_url)]
    assert [(m["rule_id"], m["state"], m["previous_state"], m["value"]) for m in messages] == [
        ("rds_cpu_avg", "ALARM", "OK", 95.0)
    ]
    stored = aws.item(f"alert#rds_cpu_avg#{DB}", "2026-11-20T12:05:00Z")
    assert stored["state"] == "ALARM" and stored["value"] == 95 and stored["notified"] is True


def test_an_sns_failure_fails_the_run_and_the_retry_sends_each_notification_once(aws, pipeline, monkeypatch):
    """SNS accepts two messages, then fails: the run fails naming the call; the retry sends the other eight."""
    publish_known_workload(aws)
    original = botocore.client.BaseClient._make_api_call
    accepted = []

    def flaky(client, operation, params):
        if operation == "Publish" and len(accepted) == 2:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, operation)
        if operation == "Publish":
            accepted.append(params)
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", flaky)
    with pytest.raises(Exception, match=r"SNS Publish on topic .*cw-analytics-dev-alerts failed: InternalError"):
        run_windows(pipeline, [W1, W2])
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", original)
    assert run_windows(pipeline, [W1, W2]).success

    messages = [n["message"] for n in read_notifications(aws.session, aws.resources.inbox_queue_url)]
    sent = sorted((m["rule_id"], m["state"], m["window_start"]) for m in messages)
    assert len(sent) == 10 and len(set(sent)) == 10  # the ten transitions, none twice
