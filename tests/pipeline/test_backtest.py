"""Backtesting over aggregates the pipeline stored in moto: the replay of today's rules reproduces what the
pipeline notified, and candidates are compared with hand-computed figures (slo_workload.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dagster import DagsterInstance
from pipeline_support import run_windows
from slo_workload import API, WINDOWS, publish_outage

from cw_local import backtest as cli
from cw_local.workload import Incident, Resources, generate, publish
from cw_pipeline.backtest import Interval, backtest_windows, render_text, run_backtest, slo_signal, threshold_signal
from cw_pipeline.defs.backtest_job import BACKTEST_JOB, BacktestConfig
from cw_pipeline.defs.metric_store import MetricStore
from cw_pipeline.windows import WINDOW, windows_between

UNTIL = WINDOWS[-1].end  # 13:10
FOURTEEN_WINDOWS_IN_DAYS = 14 / 288


def store(aws) -> MetricStore:
    return MetricStore(table_name=aws.resources.table_name)


def notified(notifications: list[dict], rule_id: str) -> list[tuple[str, str, str]]:
    return sorted(
        (n["message"]["window_start"], n["message"]["state"], n["message"]["previous_state"])
        for n in notifications
        if n["message"]["rule_id"] == rule_id
    )


def replayed(replay) -> list[tuple[str, str, str]]:
    return sorted((f"{n.window_start:%Y-%m-%dT%H:%M:%SZ}", n.state, n.previous_state) for n in replay.notifications)


def test_replaying_todays_rules_reproduces_what_the_pipeline_notified(aws, settings, pipeline):
    """Two hours of the demo workload with a 20-minute database incident (15 % of requests 5XX)."""
    start = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    windows = windows_between(start, start + timedelta(hours=2))
    incident = Incident(start + timedelta(minutes=60), timedelta(minutes=20))
    workload = generate(start, windows[-1].end, seed=7, incident=incident, resources=Resources.from_settings(settings))
    publish(workload, aws.session.client("cloudwatch"))
    run_windows(pipeline, windows)
    notifications = aws.notifications()  # drains the inbox queue: read once

    for rule_id, signal in (
        ("api_error_rate", threshold_signal("api_error_rate")),
        ("api_availability_page", slo_signal("api_availability", "page")),
    ):
        comparison = run_backtest(store(aws), settings.resources, signal, signal, windows)
        sent = notified(notifications, rule_id)
        assert {state for _, state, _ in sent} == {"ALARM", "OK"}, rule_id  # the incident fired and recovered
        assert replayed(comparison.current) == sent, rule_id
        assert comparison.only_current == comparison.only_candidate == ()


def test_a_higher_threshold_misses_the_outage_the_current_rule_catches(aws, settings, pipeline):
    publish_outage(aws)
    run_windows(pipeline, WINDOWS)
    windows = backtest_windows(FOURTEEN_WINDOWS_IN_DAYS, UNTIL)
    assert windows == WINDOWS

    comparison = run_backtest(
        store(aws),
        settings.resources,
        threshold_signal("api_error_rate"),
        threshold_signal("api_error_rate", 25.0),
        windows,
    )
    current, candidate = comparison.current, comparison.candidate
    # 20 % errors in W6 and W7: ALARM there, OK from W8 (0 %).
    assert (current.alerts, len(current.notifications), current.time_in_alarm) == (1, 2, timedelta(minutes=10))
    assert current.transitions_per_day == pytest.approx(2 / (14 / 288))  # 41.1
    assert (candidate.alerts, len(candidate.notifications), candidate.time_in_alarm) == (0, 0, timedelta(0))
    assert comparison.only_current == (Interval(API, WINDOWS[6].start, WINDOWS[8].start, 20.0),)
    assert comparison.only_candidate == ()

    text = render_text(comparison)
    assert "api_error_rate > 5" in text and "api_error_rate > 25" in text
    assert f"{API} 2026-11-20 12:30 .. 12:40 (10 min, peak 20)" in text


def test_a_looser_objective_does_not_page_on_the_outage(aws, settings, pipeline):
    publish_outage(aws)
    run_windows(pipeline, WINDOWS)
    current, candidate = slo_signal("api_availability"), slo_signal("api_availability", "page", objective=99.0)
    comparison = run_backtest(store(aws), settings.resources, current, candidate, WINDOWS)
    # 99.9 %: the page is on in W6-W12 (slo_workload.py). 99 % (budget 0.01): the 1 h pair peaks at W7 with
    # long 400 / 8,000 / 0.01 = 5 < 14.4; the 6 h pair at W8 has long 400 / 9,000 / 0.01 = 4.4 < 6.
    assert (comparison.current.alerts, comparison.current.time_in_alarm) == (1, timedelta(minutes=35))
    assert replayed(comparison.current) == [
        ("2026-11-20T12:30:00Z", "ALARM", "OK"),
        ("2026-11-20T13:05:00Z", "OK", "ALARM"),
    ]
    assert (comparison.candidate.alerts, comparison.candidate.windows_in_alarm) == (0, 0)
    (missed,) = comparison.only_current
    assert (missed.start, missed.end) == (WINDOWS[6].start, WINDOWS[13].start)
    assert missed.peak == pytest.approx(400 / 8000 / 0.001)  # W7's 1 h burn rate


def test_the_backtest_job_takes_typed_run_config(aws, settings, pipeline):
    publish_outage(aws)
    run_windows(pipeline, WINDOWS)
    config = {
        "rule_id": "api_error_rate",
        "threshold": 25.0,
        "days": FOURTEEN_WINDOWS_IN_DAYS,
        "until": "2026-11-20T13:10:00Z",
    }
    result = pipeline.resolve_job_def(BACKTEST_JOB).execute_in_process(
        run_config={"ops": {"backtest_rule": {"config": config}}}, instance=DagsterInstance.ephemeral()
    )
    figures = result.output_for_node("backtest_rule")
    assert figures["current"] == {
        "rule": "api_error_rate > 5",
        "alerts": 1,
        "notifications": 2,
        "minutes_in_alarm": 10,
        "transitions_per_day": round(2 / (14 / 288), 3),
        "caught_only_by_this_rule": 1,
    }
    assert figures["candidate"]["alerts"] == 0 and figures["candidate"]["rule"] == "api_error_rate > 25"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"rule_id": "api_error_rate", "slo_id": "api_availability"}, "exactly one of rule_id"),
        ({}, "exactly one of rule_id"),
        ({"rule_id": "api_error_rate", "objective": 99.0}, "objective applies to an SLO"),
        ({"slo_id": "api_availability", "threshold": 3.0}, "threshold applies to a rule"),
        ({"slo_id": "api_availability", "severity": "urgent"}, "severity 'urgent' is not one of page, ticket"),
        ({"rule_id": "no_such_rule"}, "unknown rule 'no_such_rule'"),
    ],
)
def test_a_bad_backtest_config_is_refused_naming_what_is_wrong(config, message):
    with pytest.raises((ValueError, KeyError), match=message):
        BacktestConfig(**config).signals()


def test_days_outside_the_retention_are_refused():
    with pytest.raises(ValueError, match="at most 63"):
        backtest_windows(64, UNTIL)
    assert backtest_windows(1, UNTIL + timedelta(minutes=3))[-1].end == UNTIL  # rounded down to a window
    assert len(backtest_windows(1, UNTIL)) == 288 and backtest_windows(1, UNTIL)[0].start == UNTIL - 288 * WINDOW


def test_the_cli_against_the_configured_table(aws, settings, pipeline, monkeypatch, capsys):
    publish_outage(aws)
    run_windows(pipeline, WINDOWS)
    for name, value in settings.as_environment().items():
        monkeypatch.setenv(name, value)
    argv = ["--rule", "api_error_rate", "--threshold", "25", "--use-environment", "--days", str(14 / 288)]
    assert cli.main([*argv, "--until", "2026-11-20T13:10:00+00:00"]) == 0
    out = capsys.readouterr().out
    assert "backtest over 2026-11-20 12:00 .. 2026-11-20 13:10 UTC (14 windows" in out
    assert "alerts (into ALARM)" in out and f"{API} 2026-11-20 12:30 .. 12:40" in out

    with pytest.raises(SystemExit) as refused:
        cli.main(["--rule", "api_error_rate", "--objective", "99"])
    assert refused.value.code == 2
    assert "--objective applies to --slo" in capsys.readouterr().err
