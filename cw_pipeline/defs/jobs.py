"""The pipeline job and its 5-minute schedule; the daily SLO report job and its schedule."""

from dagster import (
    AssetSelection,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    TimeWindowPartitionsDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
    schedule,
)

from cw_pipeline.config import Settings
from cw_pipeline.defs.assets import GROUP
from cw_pipeline.defs.partitions import range_tags
from cw_pipeline.defs.slo_assets import REPORT_GROUP
from cw_pipeline.windows import CRON_SCHEDULE, settled_windows

JOB_NAME = "cw_metrics_job"
REPORT_JOB_NAME = "slo_report_job"
# Past midnight UTC once the day's last windows have settled and been re-read (settle 2 min, lookback 1).
REPORT_HOUR, REPORT_MINUTE = 0, 30


def build_job(partitions_def: TimeWindowPartitionsDefinition):
    return define_asset_job(
        JOB_NAME,
        selection=AssetSelection.groups(GROUP),
        partitions_def=partitions_def,
        description="Pull CloudWatch metrics, write aggregates, evaluate the alert rules over windows.",
    )


def build_schedule(job, settings: Settings) -> ScheduleDefinition:
    """Every 5 minutes, the same windows the production Lambda picks (see `windows.settled_windows`).

    Not `build_schedule_from_partitioned_job`: that would run only the window that just ended, before
    CloudWatch has its late datapoints, and never re-read the previous windows.
    """

    @schedule(
        name="cw_metrics_every_5_minutes",
        job=job,
        cron_schedule=CRON_SCHEDULE,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
    )
    def cw_metrics_every_5_minutes(context: ScheduleEvaluationContext) -> RunRequest:
        windows = settled_windows(context.scheduled_execution_time, settings.settle_seconds, settings.lookback_windows)
        return RunRequest(run_key=f"scheduled-{windows[-1].partition_key}", tags=range_tags(windows))

    return cw_metrics_every_5_minutes


def build_report_job(partitions_def: DailyPartitionsDefinition):
    return define_asset_job(
        REPORT_JOB_NAME,
        selection=AssetSelection.groups(REPORT_GROUP),
        partitions_def=partitions_def,
        description="Write the daily SLO report (attainment, error budget, incidents, worst windows) of a UTC day.",
    )


def build_report_schedule(job) -> ScheduleDefinition:
    """Daily at 00:30 UTC, the day that just ended; stopped by default like the 5-minute schedule."""
    return build_schedule_from_partitioned_job(
        job, hour_of_day=REPORT_HOUR, minute_of_hour=REPORT_MINUTE, default_status=DefaultScheduleStatus.STOPPED
    )
