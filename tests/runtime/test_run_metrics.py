"""The handler's run metrics: one CloudWatch EMF line on stdout per run, success or failure.

The line is what CloudWatch Logs turns into metrics, so it is checked field by field against the EMF
specification's shape and the names the dashboard graphs (written out here, not read from the code).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from dagster_postgres.utils import DagsterPostgresException
from handler_support import FUNCTION, load_event

from cw_pipeline.runtime import instance as instances
from cw_pipeline.runtime.handler import RunBlocked, RunFailed
from cw_pipeline.runtime.invocation import InvalidEvent
from tests.e2e.support import free_port

NAMESPACE = "cw-analytics/Pipeline"
DIMENSIONS = {"Environment": "dev", "Launcher": "lambda"}


def emf_lines(output: str) -> list[dict]:
    """The EMF documents among the captured stdout lines (Powertools' log lines share the stream)."""
    documents = []
    for line in output.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            documents.append(document)
    return documents


def check_run_metric(document: dict, outcome: str) -> None:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [["Environment", "Launcher"]]  # no `service`: the dashboard's exact metric
    by_name = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert by_name == {"RunDuration": "Milliseconds", outcome: "Count"}
    assert len(directive["Metrics"]) == 2
    assert {key: document[key] for key in DIMENSIONS} == DIMENSIONS
    assert document[outcome] == [1.0]  # Powertools writes a metric's values as a list
    assert "service" not in document
    for other in {"RunFailed", "RunSucceeded", "RunBlocked"} - {outcome}:
        assert other not in document
    (duration,) = document["RunDuration"]
    assert duration >= 0 and duration == int(duration)
    now_ms = datetime.now(UTC).timestamp() * 1000
    assert now_ms - timedelta(minutes=10).total_seconds() * 1000 < document["_aws"]["Timestamp"] <= now_ms


@pytest.fixture
def traffic(aws):
    when = datetime(2026, 11, 20, 12, 7, tzinfo=UTC)
    aws.put("AWS/Lambda", "FunctionName", FUNCTION, "Invocations", when, [25])


def test_a_successful_run_publishes_run_succeeded_and_its_duration(aws, traffic, invoke, capsys):
    capsys.readouterr()
    summary = invoke(load_event("scheduler.json"))
    (document,) = emf_lines(capsys.readouterr().out)
    assert summary["status"] == "succeeded"
    check_run_metric(document, "RunSucceeded")


def test_a_failed_run_publishes_run_failed_before_the_error_leaves_the_handler(aws, traffic, invoke, capsys):
    # The AWS boundary fails: the table the run writes to does not exist, so not even the run lease is taken.
    aws.session.client("dynamodb").delete_table(TableName=aws.resources.table_name)
    capsys.readouterr()
    with pytest.raises(RunFailed, match=r"cloudwatch_datapoints: .*run lease"):
        invoke(load_event("scheduler.json"))
    (document,) = emf_lines(capsys.readouterr().out)
    check_run_metric(document, "RunFailed")


def test_a_run_blocked_by_the_run_lease_publishes_run_blocked_not_run_failed(aws, traffic, invoke, capsys):
    # Another run (one started from the Dagster UI) holds the lease for the next hour: Lambda will retry this one.
    expires = int(datetime.now(UTC).timestamp()) + 3600
    aws.session.resource("dynamodb").Table(aws.resources.table_name).put_item(
        Item={"pk": "lease", "sk": "pipeline-run", "holder": "run-from-the-ui", "taken_at": "x", "expires_at": expires}
    )
    capsys.readouterr()
    with pytest.raises(RunBlocked):
        invoke(load_event("scheduler.json"))
    (document,) = emf_lines(capsys.readouterr().out)
    check_run_metric(document, "RunBlocked")


def test_a_run_whose_instance_database_is_down_counts_as_failed(aws, traffic, invoke, capsys, monkeypatch):
    # Nothing listens on this port: the run cannot even be recorded, and that is a failed run too.
    monkeypatch.setenv(instances.PG_URL_VARIABLE, f"postgresql://postgres@127.0.0.1:{free_port()}/dagster")
    capsys.readouterr()
    with pytest.raises(DagsterPostgresException, match="DB connection"):
        invoke(load_event("scheduler.json"))
    (document,) = emf_lines(capsys.readouterr().out)
    check_run_metric(document, "RunFailed")
    assert aws.items() == []


def test_a_refused_event_is_no_run_and_publishes_nothing(aws, invoke, capsys):
    capsys.readouterr()
    with pytest.raises(InvalidEvent):
        invoke({"Records": []})
    assert emf_lines(capsys.readouterr().out) == []


def test_powertools_switch_turns_the_line_off(aws, traffic, invoke, capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    capsys.readouterr()
    invoke(load_event("scheduler.json"))
    assert emf_lines(capsys.readouterr().out) == []
