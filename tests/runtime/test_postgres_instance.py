"""With CW_DAGSTER_PG_URL or CW_DAGSTER_PG_SECRET_ARN, the run and its partitions land in the real PostgreSQL."""

from __future__ import annotations

import json

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus
from dagster._core.instance.ref import InstanceRef
from handler_support import FakeLambdaContext, load_event, pg_url

from cw_pipeline.config import ConfigurationError
from cw_pipeline.runtime import instance as instances

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
