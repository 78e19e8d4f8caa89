"""`make ui` end to end: the emulator and its workload, `dagster dev` (webserver + daemon) on workspace.yaml, and a
backfill of 12 windows launched through the webserver's GraphQL API that the daemon runs as ONE run.

The code location's partitions end at the real clock (`cw_pipeline.definitions` is built at import), so the
workload here is the last two hours, not fixed times; the checks do not depend on where the hours fall.
The instance is this session's PostgreSQL database (`make ui`'s shared-instance storage), which other tests'
runs share: the backfill's run is found by its backfill tag.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from cw_local.emulator import EndpointSession
from cw_local.fakes import DUMMY_CREDENTIALS, DUMMY_REGION
from cw_local.provision import scan_table
from cw_pipeline import naming
from cw_pipeline.defs.partitions import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from cw_pipeline.thresholds import RULES, State
from cw_pipeline.windows import WINDOW, Window, floor_to_window
from tests.e2e.support import running_ui

pytestmark = pytest.mark.timeout(420)

ASSETS = ("cloudwatch_datapoints", "metric_aggregates", "alert_evaluations")
BACKFILL_WINDOWS = 12
BACKFILL_TIMEOUT = 240.0
DONE = {"COMPLETED", "COMPLETED_SUCCESS"}
FAILED = {"FAILED", "COMPLETED_FAILED", "CANCELED", "CANCELING", "FAILING"}

LAUNCH_MUTATION = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionKeysNotFoundError { message }
    ... on PartitionSetNotFoundError { message }
  }
}
"""
BACKFILL_QUERY = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numPartitions error { message } }
    ... on PythonError { message }
  }
}
"""
RUNS_QUERY = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""


@pytest.fixture
def ui(tmp_path: Path, dagster_pg_url: str):
    """`make ui` on free ports and this session's instance database (never the developer's `dagster`)."""
    with running_ui(tmp_path, ["--hours", "2", "--no-live", "--dagster-pg-url", dagster_pg_url]) as process:
        yield process


def test_a_backfill_of_12_windows_from_the_ui_api_is_one_run_and_writes_dynamodb(ui):
    ui.wait_until_loaded()
    # Twelve windows in the middle of the two published hours: the incident (20 minutes in the middle) is inside.
    end = floor_to_window(ui.started - timedelta(seconds=120))
    windows = [Window(end - timedelta(minutes=75) + i * WINDOW) for i in range(BACKFILL_WINDOWS)]
    keys = [w.partition_key for w in windows]

    launched = ui.graphql(
        LAUNCH_MUTATION,
        {
            "params": {
                "partitionNames": keys,
                "assetSelection": [{"path": [name]} for name in ASSETS],
                "title": "e2e backfill",
                # One process for the run instead of one per step: ~30 s less on 2 cores. The default multiprocess
                # executor (what a backfill launched in the UI uses) is the same code with frames passed through
                # $DAGSTER_HOME; `make ui` was checked with it (docs/demo.md).
                "runConfigData": {"execution": {"config": {"in_process": {}}}},
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    deadline = time.monotonic() + BACKFILL_TIMEOUT
    while True:
        backfill = ui.graphql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] in DONE:
            break
        assert backfill["status"] not in FAILED, f"{backfill}\n{ui.output()}"
        assert time.monotonic() < deadline, f"backfill still {backfill['status']} after {BACKFILL_TIMEOUT:.0f} s"
        time.sleep(2)
    assert backfill["numPartitions"] == BACKFILL_WINDOWS

    runs = ui.graphql(RUNS_QUERY, {"filter": {"tags": [{"key": "dagster/backfill", "value": backfill_id}]}})
    results = runs["runsOrError"]["results"]
    assert len(results) == 1, f"a single-run backfill should be one run, got {len(results)}"
    run = results[0]
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert run["status"] == "SUCCESS"
    assert (tags[PARTITION_RANGE_START_TAG], tags[PARTITION_RANGE_END_TAG]) == (keys[0], keys[-1])

    session = boto3.Session(region_name=DUMMY_REGION, **DUMMY_CREDENTIALS)
    items = scan_table(EndpointSession(session, ui.emulator_url), "cw-analytics-dev-metrics")
    aggregates = [i for i in items if naming.item_kind(i["pk"]) == naming.AGGREGATE]
    evaluations = [i for i in items if naming.item_kind(i["pk"]) == naming.EVALUATION]
    sks = [f"{w.start:%Y-%m-%dT%H:%M:%SZ}" for w in windows]
    assert sorted((i["service"], i["sk"]) for i in aggregates) == sorted(
        (service, sk) for service in ("apigateway", "lambda", "rds") for sk in sks
    )
    assert {i["run_id"] for i in items} == {run["runId"]}
    assert len(evaluations) == BACKFILL_WINDOWS * len(RULES)
    assert all(i["request_count"] > 0 for i in aggregates if i["service"] == "apigateway")
    # The 20-minute incident lies inside the 12 windows: four windows in ALARM for every rule, the rest OK.
    for rule in RULES:
        states = [i["state"] for i in evaluations if i["rule_id"] == rule.rule_id]
        assert states.count(State.ALARM.value) == 4, (rule.rule_id, states)
        assert states.count(State.OK.value) == BACKFILL_WINDOWS - 4, (rule.rule_id, states)
