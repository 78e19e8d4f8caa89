"""The `cw_pipeline` code location: assembles the assets, resources, job and schedule (nothing else).

``defs`` is a lazy ``@definitions`` function: the webserver and daemon (workspace.yaml) call it when they
load the location, and importing this module (the Lambda handler does) builds nothing and reads no
environment.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from dagster import Definitions, definitions

from cw_pipeline.config import Settings
from cw_pipeline.defs.assets import alert_evaluations, cloudwatch_datapoints, metric_aggregates
from cw_pipeline.defs.backtest_job import backtest_job
from cw_pipeline.defs.io_managers import RunFramesIOManager, WindowFrameIOManager
from cw_pipeline.defs.jobs import build_job, build_report_job, build_report_schedule, build_schedule
from cw_pipeline.defs.metric_store import MetricStore
from cw_pipeline.defs.partitions import day_partitions, window_partitions
from cw_pipeline.defs.resources import AlertNotifier, CloudWatchMetrics, MonitoredResources, PipelineClock, ReportStore
from cw_pipeline.defs.slo_assets import slo_burn_rates, slo_daily_report

ASSETS = (cloudwatch_datapoints, metric_aggregates, alert_evaluations, slo_burn_rates)
DAILY_ASSETS = (slo_daily_report,)


def build_definitions(
    settings: Settings,
    now: datetime,
    work_dir: str | None = None,
    fixed_clock: datetime | None = None,
    frames_in_memory: bool = False,
) -> Definitions:
    """The code location for ``settings``, with partitions ending at ``now``.

    ``fixed_clock`` stamps every item with one time instead of the system clock (tests, replays).
    ``work_dir`` holds the per-window frames passed between assets; by default under DAGSTER_HOME
    (on Lambda, /tmp is the only writable place). ``frames_in_memory`` passes them in memory instead,
    for callers that run every step of a run in their own process (the Lambda handler).
    """
    base = work_dir or str(Path(os.environ.get("DAGSTER_HOME") or tempfile.gettempdir(), "cw_window_frames"))
    frames = RunFramesIOManager() if frames_in_memory else WindowFrameIOManager(base_dir=base)
    region = os.environ.get("AWS_REGION") or None  # None: boto3's AWS_DEFAULT_REGION / profile decide
    partitions, days = window_partitions(now), day_partitions(now)
    job, report_job = build_job(partitions), build_report_job(days)
    return Definitions(
        # The assets are declared on the partitions of import time; the range starts from ``now`` here.
        assets=[
            *(a.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=partitions)) for a in ASSETS),
            *(a.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=days)) for a in DAILY_ASSETS),
        ],
        jobs=[job, report_job, backtest_job],
        schedules=[build_schedule(job, settings), build_report_schedule(report_job)],
        resources={
            "cloudwatch": CloudWatchMetrics(region_name=region),
            "metric_store": MetricStore(
                region_name=region, table_name=settings.metrics_table, retention_days=settings.retention_days
            ),
            "notifier": AlertNotifier(region_name=region, topic_arn=settings.alerts_topic_arn, env=settings.env),
            "monitored": MonitoredResources.from_settings(settings, region_name=region),
            "reports": ReportStore(region_name=region, bucket=settings.reports_bucket, directory=settings.reports_dir),
            "clock": PipelineClock(fixed_time=fixed_clock.isoformat() if fixed_clock else None),
            "window_frames": frames,
        },
    )


@definitions
def defs() -> Definitions:
    """The location the webserver and daemon load: settings from the environment, partitions ending now."""
    return build_definitions(Settings.from_env(), datetime.now(UTC))
