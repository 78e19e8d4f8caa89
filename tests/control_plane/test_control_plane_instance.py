"""The production dagster.yaml loads into a working instance: Postgres storage from the injected variables, the
queued coordinator, EcsRunLauncher with its configuration validated against the run task definition."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from dagster import DagsterRunStatus, DefaultScheduleStatus
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
from dagster._core.test_utils import create_run_for_test
from dagster_aws.ecs import EcsRunLauncher
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from cw_pipeline.config import Settings
from cw_pipeline.defs.jobs import build_job, build_schedule
from cw_pipeline.defs.partitions import window_partitions
from infra_cdk.sections import control_plane
from tests.control_plane.estate import PG_HOST, PG_PORT, PG_USER, RUN_FAMILY, EcsEstate, load_instance


def test_the_instance_stores_runs_in_the_injected_postgres_database(
    production_home: Path, ecs_estate, instance_database: str
) -> None:
    instance = load_instance(production_home)
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert (
            instance.run_storage.postgres_url
            == f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{instance_database}"
        )
        run = create_run_for_test(instance, job_name="written_by_one_process", tags={"cw/trigger": "backfill"})
    finally:
        instance.dispose()
    # Another process (the webserver, a run task) with the same variables sees the same run.
    other = load_instance(production_home)
    try:
        stored = other.get_run_by_id(run.run_id)
        assert stored is not None and stored.job_name == "written_by_one_process"
        assert stored.tags["cw/trigger"] == "backfill" and stored.status == DagsterRunStatus.NOT_STARTED
    finally:
        other.dispose()


def test_the_run_launcher_is_ecs_and_resolves_the_run_task_definition(production_home: Path, ecs_estate) -> None:
    instance = load_instance(production_home)
    try:
        launcher = instance.run_launcher
        assert isinstance(launcher, EcsRunLauncher)
        # A family name or a revision ARN, resolved to the revision's ARN by a DescribeTaskDefinition call.
        assert launcher.task_definition == ecs_estate.run_task_definition_arn
        assert launcher.container_name == control_plane.RUN_CONTAINER == "run"
        assert launcher.use_current_ecs_task_config is True
        assert launcher.secrets_tags == [] and launcher.secrets == []
        assert launcher.include_sidecars is False
        assert "dagster/backfill" in launcher.propagate_tags["allow_list"]
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        assert coordinator.get_run_queue_config().max_concurrent_runs == 4
        assert instance.run_monitoring_enabled and instance.run_monitoring_start_timeout_seconds == 600
        assert instance.run_monitoring_max_runtime_seconds == 6 * 3600
        assert isinstance(instance.compute_log_manager, NoOpComputeLogManager)
        assert instance.telemetry_enabled is False
    finally:
        instance.dispose()


def test_a_run_task_resolves_its_definition_by_family_name(
    production_home: Path, ecs_estate: EcsEstate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run container's variable holds the family (its own ARN would make the task definition reference itself).
    monkeypatch.setenv(control_plane.RUN_TASK_DEFINITION_VARIABLE, RUN_FAMILY)
    instance = load_instance(production_home)
    try:
        assert instance.run_launcher.task_definition == ecs_estate.run_task_definition_arn
    finally:
        instance.dispose()


def test_a_launcher_whose_task_definition_is_gone_fails_on_first_use(production_home: Path, ecs_estate) -> None:
    ecs_estate.ecs.deregister_task_definition(taskDefinition=ecs_estate.run_task_definition_arn)
    ecs_estate.ecs.delete_task_definitions(taskDefinitions=[ecs_estate.run_task_definition_arn])
    instance = load_instance(production_home)
    try:
        with pytest.raises(ClientError, match="DescribeTaskDefinition"):
            instance.run_launcher  # noqa: B018 - the launcher is built (and checked) on first use
    finally:
        instance.dispose()


def test_a_missing_database_variable_is_named(production_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(Exception, match="DAGSTER_PG_HOST"):
        load_instance(production_home)


def test_the_dagster_schedule_stays_stopped_in_production() -> None:
    # EventBridge Scheduler drives the 5-minute cadence through the Lambda; the daemon must not run it twice.
    settings = Settings.from_env({"CW_ENV": "test"})
    job = build_job(window_partitions(datetime(2026, 11, 25, tzinfo=UTC)))
    assert build_schedule(job, settings).default_status == DefaultScheduleStatus.STOPPED
