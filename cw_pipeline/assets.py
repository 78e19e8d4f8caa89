"""The pipeline's assets, pull -> aggregate -> evaluate, over 5-minute window partitions.

Each asset is thin: the work is in `cloudwatch`, `aggregation` and `evaluation`, the I/O in
`resources`. Every asset runs a whole partition range in one run (``BackfillPolicy.single_run()``),
so a backfill of N windows makes ``ceil(queries/500) * ceil(datapoints/100800)`` GetMetricData calls,
not N times that.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    ConfigurableResource,
    MaterializeResult,
    MetadataValue,
    Output,
    PartitionsDefinition,
    asset,
)

from cw_pipeline import naming
from cw_pipeline.aggregation import aggregate, aggregate_items
from cw_pipeline.cloudwatch import build_queries
from cw_pipeline.evaluation import evaluate
from cw_pipeline.resources import AlertNotifier, CloudWatchMetrics, MetricStore, MonitoredResources
from cw_pipeline.thresholds import RULES, State
from cw_pipeline.windows import Window, windows_between

GROUP = "cloudwatch_metrics"
PREVIEW_ROWS = 10


class PipelineClock(ConfigurableResource):
    """The time stamped on items (``collected_at``, ``evaluated_at``); fixed in tests for exact items."""

    fixed_time: str | None = None  # ISO-8601; None reads the system clock

    def now(self) -> datetime:
        if self.fixed_time:
            return datetime.fromisoformat(self.fixed_time).astimezone(UTC)
        return datetime.now(UTC)


def run_windows(context: AssetExecutionContext) -> list[Window]:
    """The windows of this run's partition range, oldest first."""
    time_window = context.partition_time_window
    return windows_between(time_window.start, time_window.end)


def _preview(frame: pd.DataFrame) -> MetadataValue:
    return MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False) if not frame.empty else "(empty)")


def _window_metadata(windows: list[Window]) -> dict:
    return {
        "windows": len(windows),
        "first_window": windows[0].partition_key,
        "last_window": windows[-1].partition_key,
    }


def build_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    common = {
        "partitions_def": partitions_def,
        "backfill_policy": BackfillPolicy.single_run(),
        "group_name": GROUP,
    }

    @asset(io_manager_key="window_frames", kinds={"cloudwatch", "pandas"}, **common)
    def cloudwatch_datapoints(
        context: AssetExecutionContext, cloudwatch: CloudWatchMetrics, monitored: MonitoredResources
    ) -> Output[pd.DataFrame]:
        """Every catalog statistic of every monitored resource, one row per answered window."""
        windows = run_windows(context)
        resources = monitored.resources()
        queries = build_queries(resources)
        result = cloudwatch.fetch(queries, windows[0].start, windows[-1].end)
        answered = set(zip(result.datapoints["service"], result.datapoints["resource"], strict=True))
        silent = [f"{r.service.value}:{r.name}" for r in resources if (r.service.value, r.name) not in answered]
        if silent:
            context.log.warning(
                f"no CloudWatch datapoints for {', '.join(silent)} in {len(windows)} window(s): check the "
                "names in CW_API_NAMES / CW_FUNCTION_NAMES / CW_DB_INSTANCE_IDS; their counts are stored "
                "as 0 and their other values left absent"
            )
        return Output(
            result.datapoints,
            metadata={
                **_window_metadata(windows),
                "rows": len(result.datapoints),
                "queries": result.queries,
                "get_metric_data_calls": result.calls,
                "resources_without_data": MetadataValue.json(silent),
                "preview": _preview(result.datapoints),
            },
        )

    @asset(io_manager_key="window_frames", kinds={"dynamodb", "pandas"}, **common)
    def metric_aggregates(
        context: AssetExecutionContext,
        cloudwatch_datapoints: pd.DataFrame,
        metric_store: MetricStore,
        monitored: MonitoredResources,
        clock: PipelineClock,
    ) -> Output[pd.DataFrame]:
        """One aggregate per monitored resource per window, written to the metrics table."""
        windows = run_windows(context)
        aggregates = aggregate(cloudwatch_datapoints, monitored.resources(), windows)
        items = aggregate_items(aggregates, context.run_id, clock.now(), metric_store.retention_days)
        calls = metric_store.write(items)
        return Output(
            aggregates,
            metadata={
                **_window_metadata(windows),
                "rows": len(aggregates),
                "items_written": len(items),
                "batch_write_item_calls": calls,
                "table": metric_store.table_name,
                "preview": _preview(aggregates),
            },
        )

    @asset(
        kinds={"dynamodb", "sns"},
        check_specs=[
            AssetCheckSpec(rule.rule_id, asset="alert_evaluations", description=rule.description) for rule in RULES
        ],
        **common,
    )
    def alert_evaluations(
        context: AssetExecutionContext,
        metric_aggregates: pd.DataFrame,
        metric_store: MetricStore,
        notifier: AlertNotifier,
        clock: PipelineClock,
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        """Every threshold rule for every resource and window; transitions notified once through SNS."""
        windows = run_windows(context)
        first_sk, last_sk = naming.window_sk(windows[0].previous.start), naming.window_sk(windows[-1].start)
        stored: dict[tuple[str, str], dict] = {}
        pairs = {
            (rule, resource)
            for rule in RULES
            for resource in metric_aggregates.loc[metric_aggregates["service"] == rule.service.value, "resource"]
        }
        for rule, resource in sorted(pairs, key=lambda pair: (pair[0].rule_id, pair[1])):
            pk = naming.evaluation_pk(rule.rule_id, resource)
            for item in metric_store.query_range(pk, first_sk, last_sk):
                stored[(item["pk"], item["sk"])] = item

        evaluations = evaluate(metric_aggregates, stored)
        now = clock.now()
        items, notified_items = [], []
        try:
            for evaluation in evaluations:
                notified = evaluation.already_notified
                if evaluation.needs_notification and notifier.enabled:
                    notifier.publish(
                        evaluation.subject(notifier.env),
                        evaluation.message(),
                        evaluation.rule.rule_id,
                        evaluation.state.value,
                    )
                    notified = True
                    context.log.info(f"notified: {evaluation.subject(notifier.env)}")
                item = evaluation.item(notified, context.run_id, now, metric_store.retention_days)
                items.append(item)
                if notified and not evaluation.already_notified:
                    notified_items.append(item)
        except Exception:
            # Record what was already sent before failing the run, so that the retry does not e-mail it twice.
            metric_store.write(notified_items)
            raise
        sent = len(notified_items)
        calls = metric_store.write(items)

        states = pd.DataFrame(
            [
                (
                    e.rule.rule_id,
                    e.resource,
                    e.window.partition_key,
                    e.value,
                    e.state.value,
                    e.previous_state.value,
                )
                for e in evaluations
            ],
            columns=["rule_id", "resource", "window", "value", "state", "previous_state"],
        )
        yield MaterializeResult(
            metadata={
                **_window_metadata(windows),
                "evaluations_written": len(items),
                "alarm_evaluations": int((states["state"] == State.ALARM.value).sum()) if len(states) else 0,
                "notifications_sent": sent,
                "query_calls": len(pairs),
                "batch_write_item_calls": calls,
                "preview": _preview(states[states["state"] != State.OK.value] if len(states) else states),
            }
        )
        for rule in RULES:
            of_rule = [e for e in evaluations if e.rule is rule]
            in_alarm = [f"{e.resource}@{e.window.partition_key}" for e in of_rule if e.state is State.ALARM]
            values = [e.value for e in of_rule if e.value is not None]
            yield AssetCheckResult(
                check_name=rule.rule_id,
                passed=not in_alarm,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "threshold": rule.threshold,
                    "metric": rule.attribute,
                    "max_value": max(values) if values else None,
                    "windows_in_alarm": MetadataValue.json(in_alarm),
                    "windows_without_data": sum(e.state is State.INSUFFICIENT_DATA for e in of_rule),
                },
            )

    return [cloudwatch_datapoints, metric_aggregates, alert_evaluations]
