"""The pipeline's assets, pull -> aggregate -> evaluate, over 5-minute window partitions.

Each asset is a thin module-level function: the work is in `cw_pipeline.cloudwatch`,
`cw_pipeline.aggregation`, `cw_pipeline.evaluation` and `cw_pipeline.alerting`, the I/O in
`cw_pipeline.defs.resources`. Every asset runs a whole partition range in one run
(``BackfillPolicy.single_run()``), so a backfill of N windows makes
``ceil(queries/500) * ceil(datapoints/100800)`` GetMetricData calls, not N times that. Every step
runs under the run lease (`cw_pipeline.defs.run_lease`): one run at a time per metrics table.
"""

from collections.abc import Iterator

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    Output,
    asset,
)

from cw_pipeline import slo_history
from cw_pipeline.aggregation import aggregate, aggregate_items
from cw_pipeline.alerting import deliver, send_owed
from cw_pipeline.cloudwatch import build_queries, resources_without_data
from cw_pipeline.defs import metadata
from cw_pipeline.defs.metric_store import MetricStore
from cw_pipeline.defs.partitions import WINDOW_PARTITIONS
from cw_pipeline.defs.resources import AlertNotifier, CloudWatchMetrics, MonitoredResources, PipelineClock
from cw_pipeline.defs.run_lease import step_lease
from cw_pipeline.evaluation import evaluate, evaluation_keys
from cw_pipeline.thresholds import RULES
from cw_pipeline.windows import Window, windows_between

GROUP = "cloudwatch_metrics"
SILENT_SHOWN = 20  # resources without data named in the log and the metadata; the rest are counted
_EVERY_WINDOW = {
    "partitions_def": WINDOW_PARTITIONS,
    "backfill_policy": BackfillPolicy.single_run(),
    "group_name": GROUP,
}


def run_windows(context: AssetExecutionContext) -> list[Window]:
    """The windows of this run's partition range, oldest first."""
    time_window = context.partition_time_window
    return windows_between(time_window.start, time_window.end)


@asset(io_manager_key="window_frames", kinds={"cloudwatch", "pandas"}, **_EVERY_WINDOW)
def cloudwatch_datapoints(
    context: AssetExecutionContext,
    cloudwatch: CloudWatchMetrics,
    monitored: MonitoredResources,
    metric_store: MetricStore,
    clock: PipelineClock,
) -> Output[pd.DataFrame]:
    """Every catalog statistic of every monitored resource (named, or discovered), one row per answered window."""
    windows = run_windows(context)
    with step_lease(context, metric_store, clock):  # a blocked run makes no discovery or CloudWatch call
        discovered = monitored.discover()
        resources = list(discovered.resources)
        result = cloudwatch.fetch(build_queries(resources), windows[0].start, windows[-1].end)
    silent = resources_without_data(resources, result.datapoints)
    if silent:
        shown = ", ".join(silent[:SILENT_SHOWN]) + (
            f" and {len(silent) - SILENT_SHOWN} more" if len(silent) > SILENT_SHOWN else ""
        )
        context.log.warning(
            f"no CloudWatch datapoints for {shown} in {len(windows)} window(s): check the monitored names "
            "(CW_DISCOVERY, CW_API_NAMES / CW_FUNCTION_NAMES / CW_DB_INSTANCE_IDS); their counts are stored as 0 "
            "and their other values left absent"
        )
    described = metadata.datapoints(windows, result, silent, SILENT_SHOWN, discovered)
    return Output(result.datapoints, metadata=metadata.for_windows(context, windows, described))


@asset(io_manager_key="window_frames", kinds={"dynamodb", "pandas"}, **_EVERY_WINDOW)
def metric_aggregates(
    context: AssetExecutionContext,
    cloudwatch_datapoints: pd.DataFrame,
    metric_store: MetricStore,
    monitored: MonitoredResources,
    clock: PipelineClock,
) -> Output[pd.DataFrame]:
    """One aggregate per monitored resource per window, written to the metrics table with the SLO history
    blocks its windows fall in (`cw_pipeline.slo_history`: what the burn rates read back)."""
    windows = run_windows(context)
    with step_lease(context, metric_store, clock):
        aggregates = aggregate(cloudwatch_datapoints, monitored.resources(), windows)
        items = aggregate_items(aggregates, context.run_id, clock.now(), metric_store.retention_days)
        stored = metric_store.read_items(slo_history.keys_for(aggregates))
        blocks = slo_history.updated_blocks(aggregates, stored.items, context.run_id, metric_store.retention_days)
        calls = metric_store.write([*items, *blocks])
    described = metadata.aggregates(windows, aggregates, len(items), len(blocks), calls, stored.calls, metric_store)
    return Output(aggregates, metadata=metadata.for_windows(context, windows, described))


@asset(
    kinds={"dynamodb", "sns"},
    check_specs=[
        AssetCheckSpec(rule.rule_id, asset="alert_evaluations", description=rule.description) for rule in RULES
    ],
    **_EVERY_WINDOW,
)
def alert_evaluations(
    context: AssetExecutionContext,
    metric_aggregates: pd.DataFrame,
    metric_store: MetricStore,
    notifier: AlertNotifier,
    clock: PipelineClock,
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Every threshold rule for every resource and window; what they owe notified through an outbox:
    leftovers of earlier runs first, then transitions and corrections (`cw_pipeline.alerting`)."""
    windows = run_windows(context)
    with step_lease(context, metric_store, clock):
        resent = send_owed(notifier, metric_store, context.log)
        stored = metric_store.read_items(evaluation_keys(metric_aggregates, windows))
        evaluations = evaluate(metric_aggregates, stored.items)
        delivery = deliver(evaluations, notifier, metric_store, context.run_id, clock.now(), context.log, resent)
    described = metadata.evaluations(windows, evaluations, delivery, stored.calls)
    yield MaterializeResult(metadata=metadata.for_windows(context, windows, described))
    yield from metadata.rule_checks(evaluations)
