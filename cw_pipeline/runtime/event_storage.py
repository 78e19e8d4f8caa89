"""The ephemeral instance's event log: Dagster's in-memory one, writing a batch of materializations at once.

A run over N windows records one materialization event per window and asset (8,064 for a 7-day backfill of
the four assets). With ``DAGSTER_EVENT_BATCH_SIZE`` set (`cw_pipeline.runtime.instance.EVENT_BATCH_SIZE`),
Dagster hands them to the event log's ``store_event_batch``; dagster-postgres writes such a batch in one
statement, but Dagster's in-memory storage inherits the default, one ``store_event`` per event: three
connections, half a dozen statements and the event serialized twice, which made most of a long backfill's
cost in an ephemeral instance.

`BatchedInMemoryEventLogStorage` writes a batch of materializations the way
``dagster_postgres.PostgresEventLogStorage.store_event_batch`` (dagster-postgres 0.29) does, with the same
helpers of Dagster's SQL event log, in one transaction: the events, their indexed tags in one statement, and
the asset's record (its latest materialization) updated once, from the batch's last event, which is where the
per-event path leaves it too. Any other batch, and every single event, goes through Dagster's own path.

It also stores a planned asset check as Dagster does (``SqlEventLogStorage._store_asset_check_evaluation_planned``)
with the event serialized once instead of once per row: Dagster plans an unpartitioned check of a range run
once per window of it (the run's range is taken for the check), 2,016 rows per check for 7 days, each with
the same serialized event.
tests/runtime/test_event_storage.py checks that a run stores the same events, tags, partitions and asset
record either way; it would catch a Dagster upgrade changing those helpers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dagster import DagsterEventType, DagsterInstance, EventLogEntry
from dagster._core.instance.types import InstanceType
from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
from dagster._core.run_coordinator import DefaultRunCoordinator
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log import InMemoryEventLogStorage
from dagster._core.storage.event_log.base import EventLogCursor
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
from dagster._core.storage.root import LocalArtifactStorage
from dagster._core.storage.runs import InMemoryRunStorage
from dagster._serdes import serialize_value

_logger = logging.getLogger(__name__)


class BatchedInMemoryEventLogStorage(InMemoryEventLogStorage):
    """In-memory event log whose ``store_event_batch`` writes a batch of materializations in one transaction, and
    which serializes a planned check once however many windows it is planned for."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not events or any(event.dagster_event_type != DagsterEventType.ASSET_MATERIALIZATION for event in events):
            super().store_event_batch(events)
            return
        # One INSERT statement per event, compiled once, in one transaction: each gives its id (for the tags and
        # the asset record) without RETURNING, which SQLite only has from 3.35.
        insert = SqlEventLogStorageTable.insert()
        with self.index_transaction() as conn:
            event_ids = [conn.execute(insert, self._event_to_row(event)).inserted_primary_key[0] for event in events]
            self._store_asset_event_tags(conn, events, event_ids)
            self._store_asset_event(conn, events[-1], event_ids[-1])
        for event in events:
            self._after_store(event)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        planned = event.get_dagster_event().asset_check_planned_data
        row = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        partitions = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), [{**row, "partition": key} for key in partitions])

    def _after_store(self, event: EventLogEntry) -> None:
        """What ``InMemoryEventLogStorage.store_event`` does once an event is stored: advance the cursor it
        hands to the run's watchers, and call them."""
        self._storage_id += 1
        for handler in list(self._handlers[event.run_id]):
            try:
                handler(event, str(EventLogCursor.from_storage_id(self._storage_id)))
            except Exception:
                _logger.exception("Exception in callback for event watch on run %s.", event.run_id)


def ephemeral_instance(work_dir: str) -> DagsterInstance:
    """``DagsterInstance.ephemeral(tempdir=work_dir)`` (``dagster._core.instance.factory.create_ephemeral_instance``),
    with `BatchedInMemoryEventLogStorage` as its event log."""
    return DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=LocalArtifactStorage(work_dir),
        run_storage=InMemoryRunStorage(),
        event_storage=BatchedInMemoryEventLogStorage(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )
