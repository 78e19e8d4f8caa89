"""With CW_DAGSTER_PG_URL or CW_DAGSTER_PG_SECRET_ARN, the run and its partitions land in the real PostgreSQL,
as the Dagster UI reads them: long backfills and failed runs included."""

from __future__ import annotations

import json
import os

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value
from handler_support import NOW, FakeLambdaContext, load_event, pg_url

from cw_pipeline.config import ConfigurationError
from cw_pipeline.defs.partitions import window_partitions
from cw_pipeline.runtime import instance as instances
from cw_pipeline.runtime.handler import RunFailed

ASSETS = ("cloudwatch_datapoints", "metric_aggregates", "alert_evaluations")


def webserver_view(url: str, tmp_path) -> DagsterInstance:
    """A separate instance on the same database, as the Dagster webserver would open it."""
    home = tmp_path / "webserver_home"
    home.mkdir()
    return DagsterInstance.from_ref(
        InstanceRef.from_dir(str(home), overrides={"storage": {"postgres": {"postgres_url": url}}})
    )


def check_visible(url: str, summary: dict, tmp_path, windows: list[str], trigger: str, request_id: str) -> None:
    assert summary["instance"] == "postgres" and summary["windows"] == windows
    view = webserver_view(url, tmp_path)
    try:
        run = view.get_run_by_id(summary["run_id"])
        assert run is not None and run.status == DagsterRunStatus.SUCCESS
        assert run.job_name == "cw_metrics_job"
        assert run.tags["dagster/asset_partition_range_start"] == windows[0]
        assert run.tags["dagster/asset_partition_range_end"] == windows[-1]
        assert run.tags["cw/trigger"] == trigger and run.tags["cw/lambda_request_id"] == request_id
        for asset in ASSETS:
            assert view.get_materialized_partitions(AssetKey(asset)) >= set(windows)
            latest = view.get_latest_materialization_event(AssetKey(asset))
            assert latest is not None and latest.run_id == summary["run_id"]
    finally:
        view.dispose()


def test_a_run_is_visible_in_the_postgres_instance(aws, invoke, dagster_pg_database, monkeypatch, tmp_path):
    url = pg_url(dagster_pg_database)
    monkeypatch.setenv(instances.PG_URL_VARIABLE, url)
    summary = invoke(load_event("scheduled_rule.json"), FakeLambdaContext(aws_request_id="req-rule-1"))
    windows = ["2026-11-20-11:55", "2026-11-20-12:00"]
    check_visible(instances.psycopg2_url(url), summary, tmp_path, windows, "scheduled_rule", "req-rule-1")


def test_the_url_can_come_from_an_rds_style_secret(aws, invoke, dagster_pg_database, monkeypatch, tmp_path):
    host, port_db = pg_url(dagster_pg_database).removeprefix("postgresql://").split("@")[1].split(":")
    port, dbname = port_db.split("/")
    secret = {"engine": "postgres", "host": host, "port": int(port), "dbname": dbname}
    secret |= {"username": "postgres", "password": "p@ss/word"}  # trust auth ignores it; it must be URL-quoted
    arn = aws.session.client("secretsmanager").create_secret(Name="dagster-db", SecretString=json.dumps(secret))["ARN"]
    monkeypatch.setenv(instances.PG_SECRET_VARIABLE, arn)

    choice = instances.choose_instance()
    assert choice.postgres_url == f"postgresql+psycopg2://postgres:p%40ss%2Fword@{host}:{port}/{dbname}"
    summary = invoke(load_event("backfill.json"), FakeLambdaContext(aws_request_id="req-backfill-1"))
    windows = ["2026-11-20-11:50", "2026-11-20-11:55", "2026-11-20-12:00", "2026-11-20-12:05"]
    check_visible(choice.postgres_url, summary, tmp_path, windows, "backfill", "req-backfill-1")


def test_instance_configuration_errors(aws):
    with pytest.raises(ConfigurationError, match="not both"):
        instances.choose_instance({instances.PG_URL_VARIABLE: "postgresql://x/y", instances.PG_SECRET_VARIABLE: "arn"})
    with pytest.raises(ConfigurationError, match="not a PostgreSQL URL"):
        instances.choose_instance({instances.PG_URL_VARIABLE: "mysql://x/y"})
    assert instances.choose_instance({}) == instances.InstanceChoice(instances.EPHEMERAL)
    # SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql:// URL; dagster-postgres needs psycopg2.
    for given in ("postgresql://u:p@h:5432/d", "postgres://u:p@h:5432/d", "postgresql+psycopg2://u:p@h:5432/d"):
        assert instances.choose_instance({instances.PG_URL_VARIABLE: given}).postgres_url == (
            "postgresql+psycopg2://u:p@h:5432/d"
        )


# Long runs: a backfill over more than PLANNED_PER_WINDOW_MAX windows records its plan once per asset, and
# its materializations in batches; windows of their own, apart from the tests above (the database is shared).
LONG = {"backfill": {"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T10:10:00Z"}}  # 14 windows
LONG_WINDOWS = [f"2026-11-20-{9 + i // 12:02d}:{i % 12 * 5:02d}" for i in range(14)]
ALL_ASSETS = (*ASSETS, "slo_burn_rates")
CHECKS = 6 + 3  # the rules' checks and the SLOs'


def window_status(view: DagsterInstance, asset: str, windows: list[str]) -> tuple[set[str], set[str], set[str]]:
    """Which of ``windows`` are materialized, failed and in progress, as the UI's asset partitions read them (the
    database is shared with the other tests: their windows are left out)."""
    partitions = window_partitions(NOW)
    status = get_and_update_asset_status_cache_value(view, AssetKey(asset), partitions)
    if status is None:
        return set(), set(), set()
    return (
        set(status.deserialize_materialized_partition_subsets(partitions).get_partition_keys()) & set(windows),
        set(status.deserialize_failed_partition_subsets(partitions).get_partition_keys()) & set(windows),
        set(status.deserialize_in_progress_partition_subsets(partitions).get_partition_keys()) & set(windows),
    )


def planned(view: DagsterInstance, run_id: str) -> list:
    records = view.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records
    return [record.event_log_entry.dagster_event.event_specific_data for record in records]


def test_a_long_backfill_shows_every_window_with_its_plan_once_per_asset(
    aws, invoke, dagster_pg_database, monkeypatch, tmp_path
):
    url = pg_url(dagster_pg_database)
    monkeypatch.setenv(instances.PG_URL_VARIABLE, url)
    summary = invoke(LONG)
    assert summary["windows"] == LONG_WINDOWS and instances.SUBSET_PLANNED_VARIABLE not in os.environ

    view = webserver_view(instances.psycopg2_url(url), tmp_path)
    try:
        run = view.get_run_by_id(summary["run_id"])
        assert run is not None and run.status == DagsterRunStatus.SUCCESS
        plans = planned(view, run.run_id)
        assert sorted(plan.asset_key.path[0] for plan in plans) == sorted(ALL_ASSETS)
        assert all(set(plan.partitions_subset.get_partition_keys()) == set(LONG_WINDOWS) for plan in plans)
        for asset in ALL_ASSETS:
            assert window_status(view, asset, LONG_WINDOWS) == (set(LONG_WINDOWS), set(), set())
            records = view.fetch_materializations(AssetKey(asset), limit=100).records
            assert sorted(r.partition_key for r in records if r.run_id == run.run_id) == LONG_WINDOWS
            latest = view.get_latest_materialization_event(AssetKey(asset))
            assert latest.dagster_event.partition == LONG_WINDOWS[-1]
            assert "preview" in latest.asset_materialization.metadata  # the newest window's has the details
        evaluations = view.get_records_for_run(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
        assert len(evaluations) == CHECKS
    finally:
        view.dispose()


def test_a_failed_long_backfill_is_failed_and_leaves_its_windows_missing(
    aws, invoke, dagster_pg_database, monkeypatch, tmp_path
):
    """The trade-off of one plan per asset: Dagster marks a window failed from a plan of that window with no
    materialization in a failed run; a run over many windows has none, so its windows show as missing."""
    url = pg_url(dagster_pg_database)
    monkeypatch.setenv(instances.PG_URL_VARIABLE, url)
    monkeypatch.setenv("CW_METRICS_TABLE", "cw-analytics-dev-missing")
    failed = {"backfill": {"start": "2026-11-20T07:00:00Z", "end": "2026-11-20T08:10:00Z"}}  # 14 windows
    windows = [f"2026-11-20-{7 + i // 12:02d}:{i % 12 * 5:02d}" for i in range(14)]
    with pytest.raises(RunFailed, match="over 14 window"):
        invoke(failed)

    view = webserver_view(instances.psycopg2_url(url), tmp_path)
    try:
        (run,) = view.get_runs(filters=RunsFilter(tags={"dagster/asset_partition_range_start": "2026-11-20-07:00"}))
        assert run.status == DagsterRunStatus.FAILURE
        assert view.get_records_for_run(run.run_id, of_type=DagsterEventType.STEP_FAILURE).records
        assert len(planned(view, run.run_id)) == len(ALL_ASSETS)
        for asset in ALL_ASSETS:
            assert window_status(view, asset, windows) == (set(), set(), set())
    finally:
        view.dispose()


def test_a_failed_scheduled_run_marks_its_windows_failed(aws, invoke, dagster_pg_database, monkeypatch, tmp_path):
    """A scheduled run keeps its plan per window, so Dagster shows its windows failed when it fails."""
    url = pg_url(dagster_pg_database)
    monkeypatch.setenv(instances.PG_URL_VARIABLE, url)
    monkeypatch.setenv("CW_METRICS_TABLE", "cw-analytics-dev-missing")
    with pytest.raises(RunFailed, match="over 2 window"):
        invoke({"scheduled_time": "2026-11-20T06:12:00Z"})

    view = webserver_view(instances.psycopg2_url(url), tmp_path)
    try:
        (run,) = view.get_runs(filters=RunsFilter(tags={"dagster/asset_partition_range_start": "2026-11-20-06:00"}))
        assert run.status == DagsterRunStatus.FAILURE
        assert len(planned(view, run.run_id)) == 2 * len(ALL_ASSETS)
        for asset in ALL_ASSETS:
            windows = ["2026-11-20-06:00", "2026-11-20-06:05"]
            assert window_status(view, asset, windows) == (set(), set(windows), set())
    finally:
        view.dispose()


def test_planned_events_per_asset_only_for_long_runs_and_never_over_an_operator_setting():
    environ: dict[str, str] = {}
    with instances.planned_events(instances.PLANNED_PER_WINDOW_MAX, environ):
        assert environ == {}
    with instances.planned_events(instances.PLANNED_PER_WINDOW_MAX + 1, environ):
        assert environ == {instances.SUBSET_PLANNED_VARIABLE: "1"}
    assert environ == {}
    environ = {instances.SUBSET_PLANNED_VARIABLE: "0"}
    with instances.planned_events(2016, environ):
        assert environ == {instances.SUBSET_PLANNED_VARIABLE: "0"}
    assert environ == {instances.SUBSET_PLANNED_VARIABLE: "0"}


def test_events_are_batched_unless_the_environment_says_otherwise(tmp_path):
    environ = {"DAGSTER_HOME": str(tmp_path)}
    instances.prepare_environment(environ)
    assert environ[instances.EVENT_BATCH_SIZE_VARIABLE] == instances.EVENT_BATCH_SIZE
    environ = {"DAGSTER_HOME": str(tmp_path), instances.EVENT_BATCH_SIZE_VARIABLE: "0"}
    instances.prepare_environment(environ)
    assert environ[instances.EVENT_BATCH_SIZE_VARIABLE] == "0"
