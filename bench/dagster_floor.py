"""What Dagster's per-run machinery costs a warm invocation, with no work in the assets.

A job of the pipeline's shape (four window-partitioned single-run-backfill assets, the rule and SLO checks,
the same resources and in-memory frames), whose asset bodies do nothing, run warm in the handler's ephemeral instance
reused across runs the way the Lambda handler reuses it, with the handler's event settings (batched
materializations, and one planned event per asset over more than an hour of windows:
`cw_pipeline.runtime.instance`): run creation, resource initialisation, step orchestration and the event log.
Prints one JSON line with every run's duration (ms). ``--windows 2016`` runs a 7-day single-run backfill
instead of a scheduled run's 2 windows: Dagster still records a materialization event per window and asset,
which is most of what a long backfill costs it. ``--runs 0`` runs the cold run alone: timed as a whole
process (`bench.run_all`), that is Dagster's cold floor, imports included.

    python -m bench.dagster_floor --runs 7 [--windows 2]
"""

import argparse
import json
import os
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    BackfillPolicy,
    BetaWarning,
    Definitions,
    MaterializeResult,
    asset,
)

from cw_pipeline.config import Settings
from cw_pipeline.definitions import build_definitions
from cw_pipeline.defs.metric_store import MetricStore
from cw_pipeline.defs.partitions import range_tags, window_partitions
from cw_pipeline.defs.resources import AlertNotifier, CloudWatchMetrics, MonitoredResources, PipelineClock
from cw_pipeline.runtime import instance as instances
from cw_pipeline.slos import SLOS
from cw_pipeline.thresholds import RULES
from cw_pipeline.windows import WINDOW, floor_to_window, windows_between

warnings.filterwarnings("ignore", category=BetaWarning)


def floor_definitions(now: datetime) -> Definitions:
    partitions = window_partitions(now)
    every = {"partitions_def": partitions, "backfill_policy": BackfillPolicy.single_run(), "group_name": "floor"}

    @asset(io_manager_key="window_frames", **every)
    def cloudwatch_datapoints(cloudwatch: CloudWatchMetrics, monitored: MonitoredResources) -> pd.DataFrame:
        return pd.DataFrame({"window_start": pd.to_datetime([], utc=True)})

    @asset(io_manager_key="window_frames", **every)
    def metric_aggregates(
        cloudwatch_datapoints: pd.DataFrame,
        metric_store: MetricStore,
        monitored: MonitoredResources,
        clock: PipelineClock,
    ) -> pd.DataFrame:
        return cloudwatch_datapoints

    @asset(check_specs=[AssetCheckSpec(r.rule_id, asset="alert_evaluations") for r in RULES], **every)
    def alert_evaluations(
        metric_aggregates: pd.DataFrame, metric_store: MetricStore, notifier: AlertNotifier, clock: PipelineClock
    ):
        yield MaterializeResult(metadata={"evaluations_written": 0})
        for rule in RULES:
            yield AssetCheckResult(check_name=rule.rule_id, passed=True)

    @asset(
        deps=["metric_aggregates", "alert_evaluations"],
        check_specs=[AssetCheckSpec(slo.slo_id, asset="slo_burn_rates") for slo in SLOS],
        **every,
    )
    def slo_burn_rates(
        metric_store: MetricStore, notifier: AlertNotifier, monitored: MonitoredResources, clock: PipelineClock
    ):
        yield MaterializeResult(metadata={"evaluations_written": 0})
        for slo in SLOS:
            yield AssetCheckResult(check_name=slo.slo_id, passed=True)

    resources = build_definitions(Settings.from_env({}), now, frames_in_memory=True).resources
    assets = [cloudwatch_datapoints, metric_aggregates, alert_evaluations, slo_burn_rates]
    return Definitions(assets=assets, resources=resources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--windows", type=int, default=2)
    args = parser.parse_args()
    now = datetime.now(UTC)
    job = floor_definitions(now).resolve_implicit_global_asset_job_def()
    last = floor_to_window(now) - timedelta(minutes=10)
    windows = windows_between(last - (args.windows - 1) * WINDOW, last + WINDOW)
    with tempfile.TemporaryDirectory() as home:
        os.environ.setdefault(instances.EVENT_BATCH_SIZE_VARIABLE, instances.EVENT_BATCH_SIZE)  # as the handler does
        instance = instances.ephemeral_instance(Path(home))
        durations, cold = [], 0.0
        for index in range(args.runs + 1):
            started = time.perf_counter()
            with instances.planned_events(len(windows)):
                result = job.execute_in_process(tags=range_tags(windows), instance=instance)
            elapsed = (time.perf_counter() - started) * 1000
            instance.delete_run(result.run_id)
            if index:
                durations.append(round(elapsed, 1))
            else:  # the first run is the cold one: the instance's and the job's first use
                cold = round(elapsed, 1)
    print(json.dumps({"floor_ms": durations, "cold_ms": cold}))


if __name__ == "__main__":
    main()
