"""The demo path end to end: the emulator in a subprocess, a workload with a known incident, the production
Lambda handler (one backfill event, then one scheduled event), and what it leaves in DynamoDB and SQS.

Fixed times: the handler's clock is pinned to NOW, so its partitions and retention checks are exact and the
test does not age. The expected aggregates are computed from the generated raw samples by
`Workload.expected_statistic`, independently of the emulator and of the pipeline.
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from cw_local.demo.__main__ import main
from cw_local.demo.readback import Stored
from cw_local.emulator import running_emulator
from cw_local.fakes import FakeLambdaContext
from cw_local.provision import read_notifications, scan_table
from cw_local.workload import Incident, Resources, Workload, generate, publish
from cw_pipeline.catalog import Service
from cw_pipeline.config import Settings
from cw_pipeline.runtime.instance import psycopg2_url
from cw_pipeline.thresholds import RULES, State
from cw_pipeline.windows import WINDOW

pytestmark = pytest.mark.timeout(300)

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # the invocation clock
START = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
END = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)  # 24 windows
INCIDENT = Incident(datetime(2026, 11, 20, 12, 0, tzinfo=UTC), timedelta(minutes=20))
INCIDENT_WINDOWS = {"2026-11-20T12:00:00Z", "2026-11-20T12:05:00Z", "2026-11-20T12:10:00Z", "2026-11-20T12:15:00Z"}
RECOVERY_WINDOW = "2026-11-20T12:20:00Z"
SEED = 11
BACKFILL = {"backfill": {"start": "2026-11-20T11:00:00Z", "end": "2026-11-20T12:55:00Z"}}  # 23 windows
SCHEDULED = {"scheduled_time": "2026-11-20T13:02:00Z"}  # newest settled window 12:55, plus 12:50 re-read


def _sk(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class DemoPath:
    def __init__(self, workload: Workload, summaries: list[dict], stored: Stored, notifications: list[dict]):
        self.workload, self.summaries, self.stored, self.notifications = workload, summaries, stored, notifications


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory) -> DemoPath:
    monkeypatch = pytest.MonkeyPatch()
    try:
        with running_emulator(port=0) as emulator:
            for name, value in emulator.environment().items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("dagster_home")))
            monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "cw-analytics-dev-aggregator")
            for name in ("CW_DAGSTER_PG_URL", "CW_DAGSTER_PG_SECRET_ARN", "AWS_SESSION_TOKEN"):
                monkeypatch.delenv(name, raising=False)
            from cw_pipeline.runtime import handler as lambda_handler

            monkeypatch.setattr(lambda_handler, "now_utc", lambda: NOW)
            resources = Resources.from_settings(Settings.from_env())
            workload = generate(START, END, seed=SEED, incident=INCIDENT, resources=resources)
            publish(workload, emulator.client("cloudwatch"))
            summaries = [lambda_handler.handler(event, FakeLambdaContext()) for event in (BACKFILL, SCHEDULED)]
            session = emulator.endpoint_session()
            stored = Stored.from_items(scan_table(session, emulator.resources.table_name))
            notifications = read_notifications(session, emulator.resources.inbox_queue_url)
        assert emulator.exit_code == 0
    finally:
        monkeypatch.undo()
    return DemoPath(workload, summaries, stored, notifications)


def test_one_run_per_event_over_the_expected_windows(demo_path):
    backfill, scheduled = demo_path.summaries
    assert (backfill["status"], backfill["trigger"], len(backfill["windows"])) == ("succeeded", "backfill", 23)
    assert (backfill["windows"][0], backfill["windows"][-1]) == ("2026-11-20-11:00", "2026-11-20-12:50")
    assert (backfill["aggregates_written"], backfill["evaluations_written"]) == (23 * 3, 23 * len(RULES))
    # Every notification the runs report reached the topic; of them, the rules' went into ALARM and back.
    assert backfill["notifications_sent"] + scheduled["notifications_sent"] == len(demo_path.notifications)
    threshold = [n for n in demo_path.notifications if "slo_id" not in n["message"]]
    assert len(threshold) == 2 * len(RULES)
    assert scheduled["trigger"] == "scheduler"
    assert scheduled["windows"] == ["2026-11-20-12:50", "2026-11-20-12:55"]
    assert scheduled["aggregates_written"] == 2 * 3
    assert len(demo_path.stored.aggregates) == 24 * 3
    assert len(demo_path.stored.evaluations) == 24 * len(RULES)


def test_the_incident_windows_are_in_alarm_for_every_rule_and_only_they(demo_path):
    for rule in RULES:
        states = {e["window_start"]: e["state"] for e in demo_path.stored.evaluations if e["rule_id"] == rule.rule_id}
        assert len(states) == 24
        in_alarm = {window for window, state in states.items() if state == State.ALARM.value}
        assert in_alarm == INCIDENT_WINDOWS, rule.rule_id
        assert {state for window, state in states.items() if window not in INCIDENT_WINDOWS} == {State.OK.value}


def test_alarm_and_recovery_notifications_arrive(demo_path):
    received = sorted(
        (n["message"]["window_start"], n["message"]["rule_id"], n["message"]["previous_state"], n["message"]["state"])
        for n in demo_path.notifications
        if "slo_id" not in n["message"]  # the threshold rules; burn-rate messages name their SLO
    )
    expected = sorted(
        [("2026-11-20T12:00:00Z", rule.rule_id, "OK", "ALARM") for rule in RULES]
        + [(RECOVERY_WINDOW, rule.rule_id, "ALARM", "OK") for rule in RULES]
    )
    assert received == expected
    for notification in demo_path.notifications:
        attributes = notification["attributes"]
        assert attributes["source"] == "cw-pipeline"
        assert attributes["state"] == notification["message"]["state"]
        assert attributes["rule_id"] == notification["message"]["rule_id"]
    recovered = [n for n in demo_path.notifications if n["message"]["state"] == "OK"]
    assert all(n["message"]["value"] <= n["message"]["threshold"] for n in recovered)


def test_the_availability_page_fires_in_the_incident_and_recovers_after_it(demo_path):
    """~15 % of requests 5XX from 12:00 to 12:20, ~0.2 % otherwise (budget 0.1 %). At 12:00 the 6 h / 30 min pair
    burns at about (0.15 + 12 x 0.002) / 13 / 0.001 = 13 and (0.15 + 5 x 0.002) / 6 / 0.001 = 27, both above 6;
    from 12:45 the 30 minutes (12:20 .. 12:45) are clean again (~2) and the 5-minute window too: the page ends."""
    page = sorted(
        (n["message"]["window_start"], n["message"]["state"])
        for n in demo_path.notifications
        if "slo_id" in n["message"] and n["message"]["rule_id"] == "api_availability_page"
    )
    assert page == [("2026-11-20T12:00:00Z", "ALARM"), ("2026-11-20T12:45:00Z", "OK")]


@pytest.mark.parametrize(
    "window_start",
    [
        datetime(2026, 11, 20, 11, 55, tzinfo=UTC),  # before
        datetime(2026, 11, 20, 12, 5, tzinfo=UTC),  # inside the incident
        datetime(2026, 11, 20, 12, 20, tzinfo=UTC),  # recovered
        datetime(2026, 11, 20, 12, 55, tzinfo=UTC),  # written by the scheduled event
    ],
    ids=lambda moment: moment.strftime("%H:%M"),
)
def test_aggregates_equal_the_statistics_of_the_generated_samples(demo_path, window_start):
    workload = demo_path.workload
    end = window_start + WINDOW

    def expected(service: Service, metric: str, statistic: str) -> float | None:
        return workload.expected_statistic(service, metric, statistic, window_start, end)

    api = demo_path.stored.aggregates[("apigateway", _sk(window_start))]
    requests = expected(Service.APIGATEWAY, "Count", "Sum")
    errors = expected(Service.APIGATEWAY, "4XXError", "Sum") + expected(Service.APIGATEWAY, "5XXError", "Sum")
    assert api["request_count"] == requests
    assert api["error_rate_pct"] == pytest.approx(100 * errors / requests, rel=1e-9)
    assert api["latency_avg_ms"] == pytest.approx(expected(Service.APIGATEWAY, "Latency", "Average"), rel=1e-9)
    # Percentiles by nearest rank on the raw samples: exact values, not approximations.
    assert api["latency_p95_ms"] == expected(Service.APIGATEWAY, "Latency", "p95")
    assert api["latency_p99_ms"] == expected(Service.APIGATEWAY, "Latency", "p99")
    assert api["latency_max_ms"] == expected(Service.APIGATEWAY, "Latency", "Maximum")

    function = demo_path.stored.aggregates[("lambda", _sk(window_start))]
    assert function["invocations"] == requests
    assert function["errors"] == expected(Service.LAMBDA, "Errors", "Sum")
    assert function["duration_avg_ms"] == pytest.approx(expected(Service.LAMBDA, "Duration", "Average"), rel=1e-9)
    assert function["duration_p95_ms"] == expected(Service.LAMBDA, "Duration", "p95")

    database = demo_path.stored.aggregates[("rds", _sk(window_start))]
    assert database["cpu_avg_pct"] == pytest.approx(expected(Service.RDS, "CPUUtilization", "Average"), rel=1e-9)
    assert database["connections_max"] == expected(Service.RDS, "DatabaseConnections", "Maximum")
    # CloudWatch reports RDS latency in seconds; the aggregate stores milliseconds.
    read_latency_s = expected(Service.RDS, "ReadLatency", "Average")
    assert database["read_latency_avg_ms"] == pytest.approx(1000 * read_latency_s, rel=1e-9)
    assert database["read_latency_avg_ms"] > read_latency_s


def test_the_demo_command_reports_and_writes_the_chart(tmp_path: Path, capsys, dagster_pg_url: str):
    assert main(["--hours", "1", "--out", str(tmp_path), "--dagster-pg-url", dagster_pg_url]) == 0
    report = capsys.readouterr().out
    check_runs_recorded(dagster_pg_url, report, tmp_path)
    chart = tmp_path / "chart.png"
    header = chart.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert (width, height) == (880, 960)
    for expected in ("Lambda invocations", "AWS API calls", "CloudWatch.GetMetricData", "Alert transitions"):
        assert expected in report
    assert "Windows in ALARM per rule: " + ", ".join(f"{rule.rule_id} 4" for rule in RULES) in report
    assert "OK -> ALARM" in report and "ALARM -> OK" in report
    assert "emulator stopped" in report


def check_runs_recorded(url: str, report: str, tmp_path: Path) -> None:
    """The demo's two handler runs are in the shared instance, tagged, and the report says where to see them."""
    database = url.rsplit("/", 1)[1]
    assert f"dagster   PostgreSQL database '{database}' on " in report and "shared" in report
    assert "`make ui`, then Runs (http://127.0.0.1:3000/runs)" in report
    # The report's run id column: the first 8 characters of each run's id, backfill then scheduler.
    row_ids = re.findall(r"^(backfill|scheduler) .* ([0-9a-f]{8})$", report, flags=re.MULTILINE)
    assert [trigger for trigger, _ in row_ids] == ["backfill", "scheduler"]
    home = tmp_path / "view_home"
    home.mkdir()
    view = DagsterInstance.from_ref(
        InstanceRef.from_dir(str(home), overrides={"storage": {"postgres": {"postgres_url": psycopg2_url(url)}}})
    )
    try:
        for trigger, prefix in row_ids:
            runs = view.get_runs(RunsFilter(tags={"cw/trigger": trigger}))
            (run,) = [r for r in runs if r.run_id.startswith(prefix)]
            assert run.status == DagsterRunStatus.SUCCESS and run.tags["cw/lambda_request_id"]
    finally:
        view.dispose()
