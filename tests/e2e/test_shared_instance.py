"""The shared Dagster instance end to end: the Lambda handler records its runs in PostgreSQL, and `make ui` on the
same database shows them (with their tags and materializations) through the webserver's GraphQL API, next to
a run launched from the UI.

The handler runs in this process on an emulator of its own, with its clock pinned (fixed windows, written out
below by hand); `make ui` then starts with another emulator, as `make demo` followed by `make ui` does: what the
UI shows of the handler's runs comes from the instance database alone. The database is this session's
(`conftest.dagster_pg_url`).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cw_local.emulator import running_emulator
from cw_local.fakes import FakeLambdaContext
from cw_local.workload import Incident, Resources, generate, publish
from cw_pipeline.config import Settings
from cw_pipeline.runtime import instance as instances
from cw_pipeline.windows import floor_to_window
from tests.e2e.support import running_ui

pytestmark = pytest.mark.timeout(480)

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # the handler's clock
START, END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC), datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
INCIDENT = Incident(datetime(2026, 11, 20, 12, 20, tzinfo=UTC), timedelta(minutes=20))
BACKFILL = {"backfill": {"start": "2026-11-20T12:00:00Z", "end": "2026-11-20T12:50:00Z"}}  # end excluded
BACKFILL_WINDOWS = [f"2026-11-20-12:{minute:02d}" for minute in range(0, 50, 5)]  # 12:00 .. 12:45, 10 windows
SCHEDULED = {"scheduled_time": "2026-11-20T13:02:00Z"}  # settled: 12:55, and 12:50 re-read
SCHEDULED_WINDOWS = ["2026-11-20-12:50", "2026-11-20-12:55"]
ASSETS = ("cloudwatch_datapoints", "metric_aggregates", "alert_evaluations", "slo_burn_rates")  # the Lambda job
JOB = "cw_metrics_job"
RUN_TIMEOUT = 240.0

RUNS_QUERY = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId jobName status tags { key value } } }
  }
}
"""
RUN_QUERY = """
query($id: ID!) {
  runOrError(runId: $id) {
    __typename
    ... on Run { runId status assetMaterializations { runId partition assetKey { path } } }
  }
}
"""
ASSET_QUERY = """
query($path: [String!]!, $partitions: [String!]) {
  assetOrError(assetKey: {path: $path}) {
    __typename
    ... on Asset { assetMaterializations(partitions: $partitions) { runId partition } }
  }
}
"""
REPOSITORIES_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } jobs { name } } } } }
"""
LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""


@pytest.fixture(scope="module")
def lambda_runs(dagster_pg_url: str, tmp_path_factory) -> dict[str, dict]:
    """The handler invoked twice with CW_DAGSTER_PG_URL on the session's database: request id -> summary."""
    request_ids = {"backfill": f"e2e-backfill-{uuid.uuid4()}", "scheduler": f"e2e-scheduled-{uuid.uuid4()}"}
    monkeypatch = pytest.MonkeyPatch()
    try:
        with running_emulator(port=0) as emulator:
            for name, value in emulator.environment().items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("lambda_dagster_home")))
            monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "cw-analytics-dev-aggregator")
            monkeypatch.setenv(instances.PG_URL_VARIABLE, dagster_pg_url)
            for name in (instances.PG_SECRET_VARIABLE, "AWS_SESSION_TOKEN"):
                monkeypatch.delenv(name, raising=False)
            from cw_pipeline.runtime import handler as lambda_handler

            monkeypatch.setattr(lambda_handler, "now_utc", lambda: NOW)
            resources = Resources.from_settings(Settings.from_env())
            publish(generate(START, END, seed=5, incident=INCIDENT, resources=resources), emulator.client("cloudwatch"))
            summaries = {
                request_ids[kind]: lambda_handler.handler(event, FakeLambdaContext(aws_request_id=request_ids[kind]))
                for kind, event in (("backfill", BACKFILL), ("scheduler", SCHEDULED))
            }
    finally:
        instances.dispose_shared()
        monkeypatch.undo()
    return summaries


@pytest.fixture(scope="module")
def ui(dagster_pg_url: str, lambda_runs, tmp_path_factory):
    """`make ui` on the same database, once the handler has run; its own emulator, half an hour of workload."""
    work = tmp_path_factory.mktemp("ui")
    with running_ui(work, ["--hours", "0.5", "--no-live", "--dagster-pg-url", dagster_pg_url]) as process:
        process.wait_until_loaded()
        yield process


def _tags(run: dict) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["tags"]}


def _by_request_id(ui, request_id: str) -> list[dict]:
    runs = ui.graphql(RUNS_QUERY, {"filter": {"tags": [{"key": "cw/lambda_request_id", "value": request_id}]}})
    return runs["runsOrError"]["results"]


def test_the_ui_says_it_shares_the_instance(ui, dagster_pg_url):
    database = dagster_pg_url.rsplit("/", 1)[1]
    assert f"Dagster instance: PostgreSQL database '{database}' on " in ui.output()
    assert "(found), shared" in ui.output()


def test_the_lambda_runs_are_in_the_ui_with_their_tags(ui, lambda_runs):
    expected = {
        "backfill": ("2026-11-20-12:00", "2026-11-20-12:45"),
        "scheduler": ("2026-11-20-12:50", "2026-11-20-12:55"),
    }
    for request_id, summary in lambda_runs.items():
        trigger = summary["trigger"]
        assert summary["instance"] == "postgres"
        (run,) = _by_request_id(ui, request_id)
        tags = _tags(run)
        assert (run["runId"], run["jobName"], run["status"]) == (summary["run_id"], JOB, "SUCCESS")
        assert tags["cw/trigger"] == trigger and tags["cw/lambda_request_id"] == request_id
        range_tags = (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"])
        assert range_tags == expected[trigger]


def test_their_materializations_are_in_the_ui(ui, lambda_runs):
    windows = {"backfill": BACKFILL_WINDOWS, "scheduler": SCHEDULED_WINDOWS}
    for summary in lambda_runs.values():
        run = ui.graphql(RUN_QUERY, {"id": summary["run_id"]})["runOrError"]
        assert run["__typename"] == "Run", run
        materialized = {(m["assetKey"]["path"][-1], m["partition"]) for m in run["assetMaterializations"]}
        assert materialized == {(asset, key) for asset in ASSETS for key in windows[summary["trigger"]]}
        assert {m["runId"] for m in run["assetMaterializations"]} == {summary["run_id"]}
    # 12:45 was written by the backfill only; 12:50 by the scheduled run only (the backfill stopped at 12:45).
    by_trigger = {summary["trigger"]: summary["run_id"] for summary in lambda_runs.values()}
    for partition, trigger in (("2026-11-20-12:45", "backfill"), ("2026-11-20-12:50", "scheduler")):
        asset = ui.graphql(ASSET_QUERY, {"path": ["metric_aggregates"], "partitions": [partition]})["assetOrError"]
        assert asset["__typename"] == "Asset", asset
        assert [(m["runId"], m["partition"]) for m in asset["assetMaterializations"]] == [
            (by_trigger[trigger], partition)
        ]


def test_a_run_launched_from_the_ui_lands_next_to_them(ui, lambda_runs):
    (repository,) = ui.graphql(REPOSITORIES_QUERY)["repositoriesOrError"]["nodes"]
    assert JOB in {job["name"] for job in repository["jobs"]}
    # A window inside the half hour `make ui` published to its own emulator.
    partition = (floor_to_window(ui.started - timedelta(seconds=120)) - timedelta(minutes=10)).strftime(
        "%Y-%m-%d-%H:%M"
    )
    params = {
        "selector": {
            "repositoryLocationName": repository["location"]["name"],
            "repositoryName": repository["name"],
            "jobName": JOB,
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
        "runConfigData": {"execution": {"config": {"in_process": {}}}},  # one process: cheaper on 2 cores
    }
    launched = ui.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    deadline = time.monotonic() + RUN_TIMEOUT
    while (status := ui.graphql(RUN_QUERY, {"id": run_id})["runOrError"]["status"]) != "SUCCESS":
        assert status not in {"FAILURE", "CANCELED"}, f"the UI's run ended {status}:\n{ui.output()}"
        assert time.monotonic() < deadline, f"the UI's run is still {status} after {RUN_TIMEOUT:.0f} s"
        time.sleep(2)

    runs = {
        run["runId"]: run for run in ui.graphql(RUNS_QUERY, {"filter": {"pipelineName": JOB}})["runsOrError"]["results"]
    }
    assert {summary["run_id"] for summary in lambda_runs.values()} | {run_id} <= set(runs)
    ui_tags = _tags(runs[run_id])
    assert ui_tags["dagster/partition"] == partition and "cw/trigger" not in ui_tags
