"""The real handler, fed recorded events of each shape, against moto: windows, items, summary, retries, errors, logs."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from handler_support import API, DB, FUNCTION, RULES_PER_WINDOW, load_event

from cw_pipeline.runtime import handler as lambda_handler
from cw_pipeline.runtime.handler import RunBlocked, RunFailed
from cw_pipeline.runtime.invocation import InvalidEvent

# Lambda traffic per window (invocations, errors); lambda_errors alarms above 10 errors.
TRAFFIC = {
    "2026-11-20-11:50": (10, 0),
    "2026-11-20-11:55": (20, 12),
    "2026-11-20-12:00": (30, 0),
    "2026-11-20-12:05": (40, 1),
}
RESOURCES = 3  # one API, one function, one database
SLO_SEVERITIES_PER_WINDOW = 6  # 3 SLOs x (page, ticket), one resource per service here
PROVENANCE = ("run_id", "collected_at", "evaluated_at")  # which run wrote an item, and when


def sk(key: str) -> str:
    """``2026-11-20-12:05`` -> ``2026-11-20T12:05:00Z`` (the table's sort key), written out by hand."""
    return f"{key[:10]}T{key[11:]}:00Z"


@pytest.fixture
def traffic(aws):
    """Lambda datapoints two minutes into each window of TRAFFIC."""
    for key, (invocations, errors) in TRAFFIC.items():
        when = datetime.strptime(key, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC) + timedelta(minutes=2)
        aws.put("AWS/Lambda", "FunctionName", FUNCTION, "Invocations", when, [invocations])
        aws.put("AWS/Lambda", "FunctionName", FUNCTION, "Errors", when, [errors])


def stored_windows(aws) -> dict[str, set[str]]:
    """pk -> the sort keys stored under it."""
    by_pk: dict[str, set[str]] = {}
    for item in aws.items():
        by_pk.setdefault(item["pk"], set()).add(item["sk"])
    return by_pk


def expected_pks() -> set[str]:
    return {
        f"apigateway#{API}",
        f"lambda#{FUNCTION}",
        f"rds#{DB}",
        f"alert#api_latency_avg#{API}",
        f"alert#api_error_rate#{API}",
        f"alert#lambda_errors#{FUNCTION}",
        f"alert#lambda_duration_avg#{FUNCTION}",
        f"alert#rds_cpu_avg#{DB}",
        f"alert#rds_connections_max#{DB}",
        *(
            f"slo#{slo}#{severity}#{API}"
            for slo in ("api_availability", "api_latency")
            for severity in ("page", "ticket")
        ),
        *(f"slo#lambda_success#{severity}#{FUNCTION}" for severity in ("page", "ticket")),
    }


def history_blocks(windows: list[str]) -> dict[str, set[str]]:
    """The SLO history blocks of the API and the function that hold ``windows`` (partition keys): six hours each,
    starting at 00:00, 06:00, 12:00 and 18:00 UTC."""
    starts = {f"{key[:10]}T{int(key[11:13]) // 6 * 6:02d}:00:00Z" for key in windows}
    return {f"slo_history#apigateway#{API}": starts, f"slo_history#lambda#{FUNCTION}": starts}


def check_run(aws, summary: dict, trigger: str, windows: list[str], notifications: int) -> None:
    assert summary == {
        "status": "succeeded",
        "trigger": trigger,
        "windows": windows,
        "aggregates_written": RESOURCES * len(windows),
        "evaluations_written": RULES_PER_WINDOW * len(windows),
        "burn_rates_written": SLO_SEVERITIES_PER_WINDOW * len(windows),
        "notifications_sent": notifications,
        "run_id": summary["run_id"],
        "instance": "ephemeral",
        "duration_ms": summary["duration_ms"],
    }
    assert isinstance(summary["duration_ms"], int) and summary["duration_ms"] > 0
    json.dumps(summary)  # what Lambda returns must serialise
    sks = {sk(key) for key in windows}
    assert stored_windows(aws) == {**{pk: sks for pk in expected_pks()}, **history_blocks(windows)}
    for key in windows:
        item = aws.item(f"lambda#{FUNCTION}", sk(key))
        assert (item["invocations"], item["errors"]) == TRAFFIC[key]
        assert item["run_id"] == summary["run_id"]


def test_scheduled_rule_event_on_a_5_minute_mark(aws, traffic, invoke):
    # time 12:10:00, settle 120 s: 12:05-12:10 ended 0 s ago, so the newest settled window is 12:00, plus 11:55.
    summary = invoke(load_event("scheduled_rule.json"))
    check_run(aws, summary, "scheduled_rule", ["2026-11-20-11:55", "2026-11-20-12:00"], notifications=2 + 2)
    sent = sorted(
        (n["message"]["rule_id"], n["message"]["window_start"], n["message"]["state"]) for n in aws.notifications()
    )
    # The function's SLO: 12 of 20 invocations failed at 11:55, a burn of 0.6 / 0.001 = 600 over every long and
    # short window of this first run: page and ticket. At 12:00 the 6 h / 30 min pair (12 of 50) keeps both on.
    assert sent[-2:] == [
        ("lambda_success_page", "2026-11-20T11:55:00Z", "ALARM"),
        ("lambda_success_ticket", "2026-11-20T11:55:00Z", "ALARM"),
    ]
    assert sent[:-2] == [
        ("lambda_errors", "2026-11-20T11:55:00Z", "ALARM"),  # 12 errors > 10, from INSUFFICIENT_DATA
        ("lambda_errors", "2026-11-20T12:00:00Z", "OK"),  # back to 0 errors
    ]


def test_scheduler_event_just_after_the_settle(aws, traffic, invoke):
    # 12:12:00 is exactly 120 s after 12:10: the 12:05 window is settled; 12:00 is re-read.
    summary = invoke(load_event("scheduler.json"))
    # No threshold transition. lambda_success: at 12:05, 1 error in the 70 invocations of 12:00-12:10 burns
    # 0.0143 / 0.001 = 14.3: under the 1 h pair's 14.4, over the 6 h / 30 min pair's 6 (both windows hold those
    # 70), and over the ticket's 1: page and ticket, OK -> ALARM.
    check_run(aws, summary, "scheduler", ["2026-11-20-12:00", "2026-11-20-12:05"], notifications=2)
    stored = aws.item(f"alert#lambda_errors#{FUNCTION}", sk("2026-11-20-12:05"))
    assert (stored["state"], stored["previous_state"], stored["value"]) == ("OK", "OK", Decimal(1))


def test_manual_backfill_is_one_run_over_the_range(aws, traffic, invoke):
    summary = invoke(load_event("backfill.json"))
    # lambda_errors into ALARM and back, and lambda_success's page and ticket (as in the scheduled-rule run).
    check_run(aws, summary, "backfill", list(TRAFFIC), notifications=2 + 2)


def test_a_retried_event_rewrites_the_same_items_and_notifies_once(aws, traffic, invoke):
    event = load_event("scheduled_rule.json")
    first = invoke(event)
    first_items = {(i["pk"], i["sk"]): {k: v for k, v in i.items() if k not in PROVENANCE} for i in aws.items()}
    first_notifications = aws.notifications()

    retried = invoke(event)
    retried_items = {(i["pk"], i["sk"]): {k: v for k, v in i.items() if k not in PROVENANCE} for i in aws.items()}

    assert retried["windows"] == first["windows"] and retried["run_id"] != first["run_id"]
    assert retried_items == first_items
    # 11:55 and 12:00: two blocks each for the API and the function.
    assert len(first_items) == (RESOURCES + RULES_PER_WINDOW + SLO_SEVERITIES_PER_WINDOW) * 2 + 2 * 2
    assert {i["run_id"] for i in aws.items()} == {retried["run_id"]}  # every key overwritten, none added
    # The threshold rules' two and lambda_success's page and ticket (test_scheduled_rule_event_on_a_5_minute_mark).
    assert len(first_notifications) == first["notifications_sent"] == 2 + 2
    assert aws.notifications() == [] and retried["notifications_sent"] == 0


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ({"detail-type": "Scheduled Event", "source": "aws.events", "time": "not a time"}, "not an ISO-8601 time"),
        ({"scheduled_time": "2026-11-20T14:12:00Z"}, "after the invocation time"),
        ({"backfill": {"start": "2026-11-20T12:00:00Z", "end": "2026-11-20T11:00:00Z"}}, "is not after"),
        ({"backfill": {"start": "2026-08-01T00:00:00Z", "end": "2026-08-02T00:00:00Z"}}, "63-day retention"),
        ({"Records": [{"eventSource": "aws:sqs"}]}, "unknown event shape (keys: Records)"),
    ],
)
def test_a_bad_event_is_refused_before_anything_is_written(aws, traffic, invoke, event, says):
    with pytest.raises(InvalidEvent, match=r"expected|retention|invocation time") as raised:
        invoke(event)
    assert says in str(raised.value)
    assert aws.items() == [] and aws.notifications() == []


def test_a_backfill_over_the_configured_maximum_is_refused(aws, traffic, invoke, monkeypatch):
    monkeypatch.setenv("CW_MAX_BACKFILL_WINDOWS", "3")
    with pytest.raises(InvalidEvent, match=r"asks for 4 windows \(.*\), over the maximum of 3 per run"):
        invoke(load_event("backfill.json"))
    assert aws.items() == []


def test_a_failed_run_raises_with_the_failing_step(aws, traffic, invoke, monkeypatch):
    monkeypatch.setenv("CW_METRICS_TABLE", "cw-analytics-dev-missing")
    with pytest.raises(RunFailed) as raised:
        invoke(load_event("scheduler.json"))
    message = str(raised.value)
    assert "over 2 window(s) 2026-11-20-12:00 .. 2026-11-20-12:05 failed" in message
    # The first step takes the run lease before anything else: that is the first call to fail.
    assert "cloudwatch_datapoints: " in message
    assert "DynamoDB PutItem (run lease) on table cw-analytics-dev-missing" in message
    assert not isinstance(raised.value, RunBlocked)
    assert aws.items() == []


def test_handler_runs_without_a_lambda_context(aws, traffic):
    """``handler(event, None)``, as a person calls it locally: Powertools gets a local stand-in."""
    summary = lambda_handler.handler(load_event("scheduler.json"), None)
    # No threshold transition. lambda_success: at 12:05, 1 error in the 70 invocations of 12:00-12:10 burns
    # 0.0143 / 0.001 = 14.3: under the 1 h pair's 14.4, over the 6 h / 30 min pair's 6 (both windows hold those
    # 70), and over the ticket's 1: page and ticket, OK -> ALARM.
    check_run(aws, summary, "scheduler", ["2026-11-20-12:00", "2026-11-20-12:05"], notifications=2)


def test_a_run_that_finds_the_lease_taken_is_blocked_before_any_work(aws, traffic, invoke):
    table = aws.session.resource("dynamodb").Table(aws.resources.table_name)
    expires = int(datetime.now(UTC).timestamp()) + 3600
    held = {"pk": "lease", "sk": "pipeline-run", "holder": "run-from-the-ui", "taken_at": "x", "expires_at": expires}
    table.put_item(Item=held)
    with pytest.raises(RunBlocked) as raised:
        invoke(load_event("scheduler.json"))
    expiry = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"run run-from-the-ui, taken at x, expires at {expiry}" in str(raised.value)
    assert [i["pk"] for i in aws.items()] == ["lease"]  # nothing else written
    assert aws.calls[("cloudwatch", "GetMetricData")] == 0

    # Expired (its run crashed): the next invocation takes it over, runs, and releases it.
    table.put_item(Item={**held, "expires_at": int(datetime.now(UTC).timestamp()) - 1})
    summary = invoke(load_event("scheduler.json"))
    # No threshold transition. lambda_success: at 12:05, 1 error in the 70 invocations of 12:00-12:10 burns
    # 0.0143 / 0.001 = 14.3: under the 1 h pair's 14.4, over the 6 h / 30 min pair's 6 (both windows hold those
    # 70), and over the ticket's 1: page and ticket, OK -> ALARM.
    check_run(aws, summary, "scheduler", ["2026-11-20-12:00", "2026-11-20-12:05"], notifications=2)


def test_logs_are_json_lines_with_the_run(aws, traffic, invoke, capsys):
    # Powertools bound its handler to the stdout of import time; point it at this test's captured stdout.
    handler = lambda_handler.logger.registered_handler
    previous = handler.setStream(sys.stdout)
    try:
        summary = invoke(load_event("scheduler.json"))
    finally:
        handler.setStream(previous)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    documents = [json.loads(line) for line in lines]  # every line is JSON
    # One of them is the run metrics' EMF document (tests/runtime/test_run_metrics.py); the rest are log records.
    assert len([d for d in documents if "_aws" in d]) == 1
    records = [d for d in documents if "_aws" not in d]
    done = [r for r in records if r["message"] == "run succeeded"]
    assert len(done) == 1
    assert {k: done[0][k] for k in ("run_id", "windows", "aggregates_written", "evaluations_written")} == {
        "run_id": summary["run_id"],
        "windows": 2,
        "aggregates_written": 6,
        "evaluations_written": 12,
    }
    assert done[0]["first_window"] == "2026-11-20-12:00" and done[0]["last_window"] == "2026-11-20-12:05"
    assert done[0]["duration_ms"] == summary["duration_ms"] and done[0]["level"] == "INFO"
    assert done[0]["service"] == "cw-analytics-dev-aggregator"
    assert done[0]["function_name"] == "cw-analytics-dev-aggregator" and done[0]["cold_start"] in (True, False)
    steps = {r.get("step") for r in records if r.get("dagster_run_id") == summary["run_id"]}
    assert {"cloudwatch_datapoints", "metric_aggregates", "alert_evaluations"} <= steps
