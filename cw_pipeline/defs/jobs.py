"""The pipeline job and its 5-minute schedule."""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    TimeWindowPartitionsDefinition,
    define_asset_job,
    schedule,
)

from cw_pipeline.config import Settings
from cw_pipeline.defs.assets import GROUP
from cw_pipeline.defs.partitions import range_tags
from cw_pipeline.windows import CRON_SCHEDULE, settled_windows

JOB_NAME = "cw_metrics_job"


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
