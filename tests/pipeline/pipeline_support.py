"""Constants and helpers of the pipeline tests (fixtures are in conftest.py).

A module with a name of its own, not ``conftest``: ``from conftest import ...`` picks whichever
conftest pytest loaded last when several test folders run together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import DagsterInstance, Definitions

from cw_pipeline.defs.jobs import JOB_NAME
from cw_pipeline.defs.partitions import range_tags
from cw_pipeline.windows import Window

# A fixed day, well inside the partition range of a code location built "now" = NOW.
NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
COLLECTED_AT = datetime(2026, 11, 20, 13, 30, 7, tzinfo=UTC)
W1 = Window(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
W2 = Window(datetime(2026, 11, 20, 12, 5, tzinfo=UTC))


def run_windows(defs: Definitions, windows: list[Window], instance: DagsterInstance | None = None):
    """Run the pipeline job over ``windows`` as one run, the way a single-run backfill does."""
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        tags=range_tags(windows), instance=instance or DagsterInstance.ephemeral(), raise_on_error=True
    )


def minute(window: Window, offset: int, seconds: int = 0) -> datetime:
    return window.start + timedelta(minutes=offset, seconds=seconds)
