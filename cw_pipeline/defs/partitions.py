"""The 5-minute window partitions every pipeline asset shares, and the daily partitions of the SLO report.

Bounded on purpose (~18,000 partitions): they start at the first midnight inside CloudWatch's 63-day
retention of 5-minute data, since an older window cannot be re-pulled at this resolution, and Dagster's
UI slows down with very many partitions. The start therefore depends on the time the code location
loads: `WINDOW_PARTITIONS` is the one built at import, and `window_partitions(now)` builds it for any
other time (the Lambda's invocation clock, tests at a fixed day).
"""

from __future__ import annotations

from datetime import UTC, datetime

from dagster import DailyPartitionsDefinition, TimeWindowPartitionsDefinition

from cw_pipeline.windows import CRON_SCHEDULE, PARTITION_KEY_FORMAT, Window, earliest_pullable_window

PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def window_partitions(now: datetime) -> TimeWindowPartitionsDefinition:
    """5-minute UTC partitions from the oldest window CloudWatch still holds at 5-minute resolution."""
    return TimeWindowPartitionsDefinition(
        start=earliest_pullable_window(now).start,
        cron_schedule=CRON_SCHEDULE,
        fmt=PARTITION_KEY_FORMAT,
        timezone="UTC",
    )


def day_partitions(now: datetime) -> DailyPartitionsDefinition:
    """UTC days from the same first midnight as `window_partitions`: a day's partition exists once it has
    ended, and maps onto the 288 window partitions inside it (``TimeWindowPartitionMapping``)."""
    return DailyPartitionsDefinition(start_date=earliest_pullable_window(now).start, timezone="UTC")


WINDOW_PARTITIONS = window_partitions(datetime.now(UTC))
DAY_PARTITIONS = day_partitions(datetime.now(UTC))


def range_tags(windows: list[Window]) -> dict[str, str]:
    """Run tags that make one run cover ``windows`` (a single-run backfill of that range)."""
    return {
        PARTITION_RANGE_START_TAG: windows[0].partition_key,
        PARTITION_RANGE_END_TAG: windows[-1].partition_key,
    }
