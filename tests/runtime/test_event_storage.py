"""The ephemeral instance's batched event log stores what Dagster's own in-memory one stores.

The same range run (two window-partitioned assets with a check, a materialization per window each, metadata
shared and per window) in Dagster's ephemeral instance and in the handler's, with batches smaller than the run
so that several are written: the same events, storage ids, metadata, indexed tags, materialized partitions,
latest materialization per asset, check results and rows of the check executions table.
"""

import warnings
from datetime import UTC, datetime

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    BetaWarning,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    EventLogEntry,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._serdes import deserialize_value

from cw_pipeline.defs.partitions import range_tags, window_partitions
from cw_pipeline.runtime import instance as instances
from cw_pipeline.runtime.event_storage import BatchedInMemoryEventLogStorage
from cw_pipeline.windows import WINDOW, Window

warnings.filterwarnings("ignore", category=BetaWarning)

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
WINDOWS = [Window(datetime(2026, 11, 20, 10, 0, tzinfo=UTC) + i * WINDOW) for i in range(23)]
BATCH = "5"  # 23 materializations per asset: four full batches and a short one
ASSETS = (AssetKey("upstream"), AssetKey("downstream"))


def definitions() -> Definitions:
    every = {"partitions_def": window_partitions(NOW), "backfill_policy": BackfillPolicy.single_run()}

    # A code version: the data versions (tags) then depend on the data, not on the run id.
    @asset(code_version="1", **every)
    def upstream(context: AssetExecutionContext) -> MaterializeResult:
        keys = context.partition_keys
        context.add_asset_metadata({"preview": MetadataValue.md("| a |\n| - |\n| 1 |")}, partition_key=keys[-1])
        return MaterializeResult(metadata={"windows": len(keys), "names": MetadataValue.json(["x", "y"])})

    @asset(code_version="1", deps=[upstream], check_specs=[AssetCheckSpec("fine", asset="downstream")], **every)
    def downstream(context: AssetExecutionContext):
        yield MaterializeResult(metadata={"rows": 3})
        yield AssetCheckResult(check_name="fine", passed=True, metadata={"max_value": 1.5})

    return Definitions(assets=[upstream, downstream])


def stored(instance: DagsterInstance) -> dict:
    """What the run left in ``instance``, with nothing that differs from one run to another (ids, times)."""
    (run,) = instance.get_runs()
    events = [
        (
            record.storage_id,
            record.event_log_entry.dagster_event_type,
            record.event_log_entry.dagster_event.asset_key if record.event_log_entry.dagster_event else None,
            record.event_log_entry.dagster_event.partition if record.event_log_entry.dagster_event else None,
        )
        for record in instance.get_records_for_run(run.run_id, limit=1000).records
    ]
    materializations = {
        key: [
            (r.storage_id, r.partition_key, dict(r.asset_materialization.metadata), r.asset_materialization.tags)
            for r in instance.fetch_materializations(key, limit=100).records
        ]
        for key in ASSETS
    }
    latest = {
        record.asset_entry.asset_key: record.asset_entry.last_materialization_record.storage_id
        for record in instance.get_asset_records(list(ASSETS))
    }
    tags = {
        key: instance.event_log_storage.get_latest_tags_by_partition(
            key, DagsterEventType.ASSET_MATERIALIZATION, ["dagster/data_version"]
        )
        for key in ASSETS
    }
    check = instance.event_log_storage.get_asset_check_execution_history(
        next(iter(definitions().resolve_asset_graph().asset_check_keys)), limit=100
    )
    return {
        "events": events,
        "materializations": materializations,
        "partitions": {key: instance.get_materialized_partitions(key) for key in ASSETS},
        "latest": latest,
        "tags": tags,
        "checks": [(c.partition, c.status.value, _check_metadata(c.event)) for c in check],
        "check_rows": check_rows(instance),
        "cursor": instance.event_log_storage._storage_id,  # the cursor the run's watchers were handed
    }


def check_rows(instance: DagsterInstance) -> list[tuple]:
    """Every row of the check executions table, the event each holds reduced to what does not name the run."""
    with instance.event_log_storage.index_connection() as conn:
        rows = conn.execute(AssetCheckExecutionsTable.select().order_by(AssetCheckExecutionsTable.c.id)).mappings()
        return [
            (
                row["asset_key"],
                row["check_name"],
                row["partition"],
                row["execution_status"],
                row["evaluation_event_storage_id"],
                row["materialization_event_storage_id"],
                _without_run(deserialize_value(row["evaluation_event"], EventLogEntry)),
            )
            for row in rows
        ]


def _without_run(event: EventLogEntry) -> tuple:
    """A planned check (with the windows it is planned for) or its evaluation, without run ids or times."""
    data = event.get_dagster_event().event_specific_data
    if hasattr(data, "passed"):
        target = data.target_materialization_data.storage_id if data.target_materialization_data else None
        return ("evaluation", data.asset_key, data.check_name, data.passed, dict(data.metadata), target, data.partition)
    windows = sorted(data.partitions_subset.get_partition_keys()) if data.partitions_subset else None
    return ("planned", data.asset_key, data.check_name, windows)


def _check_metadata(event) -> dict | None:
    data = event.dagster_event.event_specific_data if event and event.dagster_event else None
    return dict(data.metadata) if data is not None and hasattr(data, "passed") else None


@pytest.fixture
def batched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(instances.EVENT_BATCH_SIZE_VARIABLE, BATCH)
    monkeypatch.delenv(instances.SUBSET_PLANNED_VARIABLE, raising=False)


def test_a_batched_run_stores_what_dagsters_own_in_memory_log_stores(batched, tmp_path):
    job = definitions().resolve_implicit_global_asset_job_def()
    results = {}
    for name, instance in (
        ("dagster", DagsterInstance.ephemeral(tempdir=str(tmp_path / "dagster"))),
        ("batched", instances.ephemeral_instance(tmp_path / "batched")),
    ):
        with instance:
            assert job.execute_in_process(tags=range_tags(WINDOWS), instance=instance).success
            results[name] = stored(instance)
    assert isinstance(instances.ephemeral_instance(tmp_path / "x").event_log_storage, BatchedInMemoryEventLogStorage)

    dagster, batched_result = results["dagster"], results["batched"]
    assert batched_result == dagster
    # And the run is the one meant: a materialization per window and asset, the details on the newest only.
    keys = [window.partition_key for window in WINDOWS]
    for key in ASSETS:
        assert [partition for _, partition, _, _ in dagster["materializations"][key]] == keys[::-1]
        assert dagster["partitions"][key] == set(keys)
        assert dagster["latest"][key] == max(storage_id for storage_id, *_ in dagster["materializations"][key])
    upstream = {partition: metadata for _, partition, metadata, _ in dagster["materializations"][ASSETS[0]]}
    assert [partition for partition, metadata in upstream.items() if "preview" in metadata] == [keys[-1]]
    # Newest first: the evaluation, then a planned row per window (Dagster plans an unpartitioned check of a range
    # run once per window of it, and records the evaluation apart).
    assert dagster["checks"][0][:2] == (None, "SUCCEEDED") and dagster["checks"][0][2]["max_value"].value == 1.5
