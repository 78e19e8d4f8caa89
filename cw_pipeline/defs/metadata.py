"""What each asset records about its run: Dagster metadata and the per-rule asset checks.

Kept apart from the assets so that they stay thin; these functions only describe results, except
`for_windows`, which decides which window's materialization carries what.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    JsonMetadataValue,
    MarkdownMetadataValue,
    MetadataValue,
)

from cw_pipeline.alerting import Delivery
from cw_pipeline.cloudwatch import FetchResult
from cw_pipeline.discovery import Discovered
from cw_pipeline.evaluation import Evaluation
from cw_pipeline.thresholds import RULES, State
from cw_pipeline.windows import Window

PREVIEW_ROWS = 10


def preview(frame: pd.DataFrame) -> MetadataValue:
    return MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False) if not frame.empty else "(empty)")


# What a range run shows once, not per window: Dagster copies a run's metadata into every window's materialization
# event and serializes it with each, so a 7-day backfill would store these 2,016 times over per asset. Numbers and
# short strings stay on every window.
DETAIL_TYPES = (MarkdownMetadataValue, JsonMetadataValue)


def for_windows(context: AssetExecutionContext, windows: Sequence[Window], metadata: dict) -> dict:
    """``metadata`` for a run over ``windows``: what every window's materialization carries (returned) and,
    attached to the newest window's alone, the details (markdown previews, JSON lists and maps of names).

    The newest window's materialization is the last the run records, so it is the asset's latest one, the one
    the Dagster UI's asset page shows: it has everything. Every window keeps the run's figures (counts, calls,
    the range), which is what a window's own materialization and the Lambda's summary read.
    """
    details = {name: value for name, value in metadata.items() if isinstance(value, DETAIL_TYPES)}
    if len(windows) < 2 or not details:
        return metadata
    context.add_asset_metadata(details, partition_key=windows[-1].partition_key)
    return {name: value for name, value in metadata.items() if name not in details}


def window_range(windows: Sequence[Window]) -> dict:
    return {
        "windows": len(windows),
        "first_window": windows[0].partition_key,
        "last_window": windows[-1].partition_key,
    }


def datapoints(
    windows: Sequence[Window], result: FetchResult, silent: Sequence[str], shown: int, discovered: Discovered
) -> dict:
    """The pull: rows, queries and calls, the first ``shown`` resources without data (and how many there
    were), and what discovery found (count per service and a sample of names), what CW_EXCLUDE dropped, its calls."""
    return {
        **window_range(windows),
        "rows": len(result.datapoints),
        "queries": result.queries,
        "get_metric_data_calls": result.calls,
        "resources_without_data": MetadataValue.json(list(silent[:shown])),
        "preview": preview(result.datapoints),
        "resources_without_data_count": len(silent),
        **{
            name: MetadataValue.json(value) if isinstance(value, dict | list) else value
            for name, value in discovered.metadata().items()
        },
    }


def aggregates(
    windows: Sequence[Window],
    frame: pd.DataFrame,
    items_written: int,
    blocks_written: int,
    write_calls: int,
    block_read_calls: int,
    store,
) -> dict:
    return {
        **window_range(windows),
        "rows": len(frame),
        "items_written": items_written,
        "slo_history_blocks_written": blocks_written,
        "slo_history_read_calls": block_read_calls,
        "batch_write_item_calls": write_calls,
        "table": store.table_name,
        "preview": preview(frame),
    }


def evaluations(
    windows: Sequence[Window], evaluated: Sequence[Evaluation], delivery: Delivery, read_calls: int
) -> dict:
    states = pd.DataFrame(
        [
            (e.rule.rule_id, e.resource, e.window.partition_key, e.value, e.state.value, e.previous_state.value)
            for e in evaluated
        ],
        columns=["rule_id", "resource", "window", "value", "state", "previous_state"],
    )
    return {
        **window_range(windows),
        "evaluations_written": len(delivery.items),
        "alarm_evaluations": sum(e.state is State.ALARM for e in evaluated),
        "notifications_sent": delivery.sent,
        "stored_state_read_calls": read_calls,
        "batch_write_item_calls": delivery.write_calls,
        "preview": preview(states[states["state"] != State.OK.value] if len(states) else states),
    }


def rule_checks(evaluated: Sequence[Evaluation]) -> Iterator[AssetCheckResult]:
    """One check per rule: failed (severity WARN) when any window of the run is in ALARM."""
    for rule in RULES:
        of_rule = [e for e in evaluated if e.rule is rule]
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
