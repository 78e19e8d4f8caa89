"""The SLO assets: burn rates after the aggregates (every 5-minute window), and the daily SLO report.

- `slo_burn_rates` is in the pipeline job's group, on the same window partitions and single-run
  backfill policy. It reads the history its long windows need (from `burn_rate.history_start` of the run's
  first window) from the SLO history blocks the aggregates step writes (`cw_pipeline.slo_history`: 13
  BatchGetItem keys per resource, not 864 aggregates), evaluates every SLO at every
  severity (`cw_pipeline.slo_evaluation`), and delivers transitions exactly like the threshold rules
  (`cw_pipeline.alerting.deliver`): same guarantee, same outbox, same message shape plus the SLO id and severity.
- `slo_daily_report` is partitioned by UTC day and depends on the window assets through
  ``TimeWindowPartitionMapping`` (a day maps onto its 288 windows). It reads the SLO history of the
  compliance period ending with the day and the day's evaluations back from the table, builds the report
  (`cw_pipeline.slo_report`), renders it (`cw_pipeline.slo_report_html`) and writes it with `ReportStore`
  (S3, or a local directory).
"""

import os
from collections.abc import Iterator, Sequence
from datetime import datetime

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    TimeWindowPartitionMapping,
    asset,
)

from cw_pipeline import naming, slo_history
from cw_pipeline.alerting import deliver
from cw_pipeline.burn_rate import history_start
from cw_pipeline.config import MonitoredResource, Settings
from cw_pipeline.defs import slo_metadata
from cw_pipeline.defs.assets import GROUP, run_windows
from cw_pipeline.defs.metadata import for_windows
from cw_pipeline.defs.metric_store import MetricStore, StoredItems
from cw_pipeline.defs.partitions import DAY_PARTITIONS, WINDOW_PARTITIONS
from cw_pipeline.defs.resources import AlertNotifier, MonitoredResources, PipelineClock, ReportStore
from cw_pipeline.defs.run_lease import step_lease
from cw_pipeline.slo_evaluation import burn_rate_keys, burn_rate_rules, evaluate_slos
from cw_pipeline.slo_report import SloReport, build_report
from cw_pipeline.slo_report_html import render_html
from cw_pipeline.slos import SLOS, slos_for
from cw_pipeline.thresholds import RULES
from cw_pipeline.windows import WINDOW

REPORT_GROUP = "slo_reports"
_FROM_WINDOWS = TimeWindowPartitionMapping()


def slo_resources(resources: Sequence[MonitoredResource]) -> list[MonitoredResource]:
    """The monitored resources some SLO is measured on (their SLO history is what the SLO assets read)."""
    return [r for r in resources if slos_for(r.service)]


def read_history(
    metric_store: MetricStore, resources: Sequence[MonitoredResource], first: datetime, last: datetime
) -> tuple[pd.DataFrame, StoredItems]:
    """The SLO history of ``resources`` for the windows starting in ``[first, last]`` (`cw_pipeline.slo_history`),
    and the blocks read: a few BatchGetItem calls, however long the range and however many resources."""
    blocks = metric_store.read_items(slo_history.block_keys(resources, first, last))
    return slo_history.history(blocks.items.values(), first, last), blocks


@asset(
    # After the threshold rules' delivery, not beside it: both drain the one outbox, and two steps of one run
    # draining it at once (the multiprocess executor) could publish the same leftover twice.
    deps=["metric_aggregates", "alert_evaluations"],
    kinds={"dynamodb", "sns"},
    check_specs=[AssetCheckSpec(slo.slo_id, asset="slo_burn_rates", description=slo.description) for slo in SLOS],
    partitions_def=WINDOW_PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    group_name=GROUP,
)
def slo_burn_rates(
    context: AssetExecutionContext,
    metric_store: MetricStore,
    notifier: AlertNotifier,
    monitored: MonitoredResources,
    clock: PipelineClock,
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Multi-window burn rates of every SLO per severity and resource; transitions notified once through SNS."""
    windows = run_windows(context)
    resources = slo_resources(monitored.resources())
    with step_lease(context, metric_store, clock):
        history, read = read_history(metric_store, resources, history_start(windows[0]), windows[-1].start)
        stored = metric_store.read_items(burn_rate_keys(history, windows))
        evaluations = evaluate_slos(history, windows, stored.items)
        delivery = deliver(evaluations, notifier, metric_store, context.run_id, clock.now(), context.log)
    described = slo_metadata.burn_rates(windows, evaluations, delivery, read, len(history), stored.calls)
    yield MaterializeResult(metadata=for_windows(context, windows, described))
    yield from slo_metadata.slo_checks(history, evaluations, windows[-1])


@asset(
    deps=[
        AssetDep(upstream, partition_mapping=_FROM_WINDOWS)
        for upstream in ("metric_aggregates", "alert_evaluations", "slo_burn_rates")
    ],
    kinds={"s3", "html"},
    partitions_def=DAY_PARTITIONS,
    group_name=REPORT_GROUP,
)
def slo_daily_report(
    context: AssetExecutionContext,
    metric_store: MetricStore,
    monitored: MonitoredResources,
    reports: ReportStore,
    notifier: AlertNotifier,
    clock: PipelineClock,
) -> MaterializeResult:
    """The day's SLO attainment, error budget, incidents and worst windows, as an HTML page."""
    day = context.partition_time_window
    location, built = write_daily_report(
        metric_store, reports, monitored.resources(), day.start, day.end, clock.now(), notifier.env
    )
    context.log.info(f"SLO report for {day.start:%Y-%m-%d} written to {location}")
    return MaterializeResult(metadata=slo_metadata.report(location, built))


def write_daily_report(
    metric_store: MetricStore,
    reports: ReportStore,
    resources: Sequence[MonitoredResource],
    start: datetime,
    end: datetime,
    generated_at: datetime,
    env: str,
) -> tuple[str, SloReport]:
    """Read ``[start, end)`` back from the table, build and render the report, write it; where it went.

    The SLO history is read over the longest compliance period ending with the period (the budget left),
    in blocks of six hours (BatchGetItem); evaluations of every threshold rule and SLO severity over the period, one
    Query per rule and resource.
    """
    last = end - WINDOW
    compliance = max(slo.compliance_period for slo in SLOS)
    aggregates, _ = read_history(metric_store, slo_resources(resources), end - compliance, last)
    first_sk, last_sk = naming.window_sk(start), naming.window_sk(last)
    pks = [naming.evaluation_pk(r.rule_id, m.name) for r in RULES for m in resources if m.service == r.service]
    pks += [
        naming.slo_evaluation_pk(r.slo.slo_id, r.severity.value, m.name)
        for r in burn_rate_rules()
        for m in resources
        if m.service == r.service
    ]
    items = [item for pk in pks for item in metric_store.query_range(pk, first_sk, last_sk)]
    built = build_report(aggregates, items, start, end, generated_at)
    location = reports.write(naming.slo_report_key(start), render_html(built, env))
    return location, built


def report_from_settings(settings: Settings, start: datetime, end: datetime, generated_at: datetime) -> str:
    """Write the SLO report of ``[start, end)`` for ``settings`` outside Dagster (the demo calls this);
    where it went. Calls go where boto3's standard configuration says (``AWS_ENDPOINT_URL`` included)."""
    region = os.environ.get("AWS_REGION") or None
    store = MetricStore(region_name=region, table_name=settings.metrics_table, retention_days=settings.retention_days)
    reports = ReportStore(region_name=region, bucket=settings.reports_bucket, directory=settings.reports_dir)
    location, _ = write_daily_report(store, reports, settings.resources, start, end, generated_at, settings.env)
    return location
