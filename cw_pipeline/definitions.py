"""The `cw_pipeline` code location: assembles assets, resources, the job and the schedule."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from dagster import Definitions

from cw_pipeline.assets import PipelineClock, build_assets
from cw_pipeline.config import Settings
from cw_pipeline.jobs import build_job, build_schedule, window_partitions
from cw_pipeline.resources import AlertNotifier, CloudWatchMetrics, MetricStore, MonitoredResources
from cw_pipeline.window_frames import WindowFrameIOManager


def build_definitions(
    settings: Settings, now: datetime, work_dir: str | None = None, fixed_clock: datetime | None = None
) -> Definitions:
    """The code location for ``settings``, with partitions ending at ``now``.

    ``fixed_clock`` stamps every item with one time instead of the system clock (tests, replays).

    ``work_dir`` holds the per-window frames passed between assets; by default under DAGSTER_HOME
    (on Lambda, /tmp is the only writable place).
    """
    base = work_dir or str(Path(os.environ.get("DAGSTER_HOME") or tempfile.gettempdir(), "cw_window_frames"))
    region = os.environ.get("AWS_REGION") or None  # None: boto3's AWS_DEFAULT_REGION / profile decide
    partitions = window_partitions(now)
    job = build_job(partitions)
    return Definitions(
        assets=build_assets(partitions),
        jobs=[job],
        schedules=[build_schedule(job, settings)],
        resources={
            "cloudwatch": CloudWatchMetrics(region_name=region),
            "metric_store": MetricStore(
                region_name=region, table_name=settings.metrics_table, retention_days=settings.retention_days
            ),
            "notifier": AlertNotifier(region_name=region, topic_arn=settings.alerts_topic_arn, env=settings.env),
            "monitored": MonitoredResources.from_settings(settings),
            "clock": PipelineClock(fixed_time=fixed_clock.isoformat() if fixed_clock else None),
            "window_frames": WindowFrameIOManager(base_dir=base),
        },
    )


defs = build_definitions(Settings.from_env(), datetime.now(UTC))
