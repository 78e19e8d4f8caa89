"""What the SLO assets record about their runs: Dagster metadata and the per-SLO asset checks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from cw_pipeline.alerting import Delivery
from cw_pipeline.burn_rate import error_budget_remaining
from cw_pipeline.defs.metadata import preview, window_range
from cw_pipeline.defs.metric_store import StoredItems
from cw_pipeline.slo_evaluation import BurnRateEvaluation
from cw_pipeline.slo_report import SloReport
from cw_pipeline.slos import SLOS, longest_window, window_label
from cw_pipeline.thresholds import State
from cw_pipeline.windows import Window


def burn_rates(
    windows: Sequence[Window],
    evaluated: Sequence[BurnRateEvaluation],
    delivery: Delivery,
    history: StoredItems,
    history_windows: int,
    stored_read_calls: int,
) -> dict:
    states = pd.DataFrame(
        [
            (e.rule.rule_id, e.resource, e.window.partition_key, e.policy.name, e.value, e.state.value)
            for e in evaluated
        ],
        columns=["rule_id", "resource", "window", "policy", "burn_rate", "state"],
    )
    return {
        **window_range(windows),
        "history": window_label(longest_window()),
        "history_blocks": len(history.items),
        "history_read_calls": history.calls,
        "history_windows": history_windows,
        "evaluations_written": len(delivery.items),
        "alarm_evaluations": sum(e.state is State.ALARM for e in evaluated),
        "notifications_sent": delivery.sent,
        "stored_state_read_calls": stored_read_calls,
        "batch_write_item_calls": delivery.write_calls,
        "preview": preview(states[states["state"] == State.ALARM.value] if len(states) else states),
    }


def slo_checks(
    history: pd.DataFrame, evaluated: Sequence[BurnRateEvaluation], last: Window
) -> Iterator[AssetCheckResult]:
    """One check per SLO: failed (WARN) when a severity is in ALARM in the run or a resource overspent its budget.

    The budget is over the history the run read (the longest burn-rate window, ``budget_windows`` says
    how many windows had data): the daily report gives it over the whole compliance period.
    """
    for slo in SLOS:
        budget = error_budget_remaining(history, slo, last)
        remaining = {
            row["resource"]: None if pd.isna(row["budget_remaining"]) else round(float(row["budget_remaining"]), 6)
            for row in budget.to_dict("records")
        }
        in_alarm = [
            f"{e.rule.severity.value}:{e.resource}@{e.window.partition_key}"
            for e in evaluated
            if e.rule.slo is slo and e.state is State.ALARM
        ]
        overspent = [resource for resource, left in remaining.items() if left is not None and left < 0]
        yield AssetCheckResult(
            check_name=slo.slo_id,
            passed=not in_alarm and not overspent,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "objective": slo.objective,
                "error_budget": slo.error_budget,
                "budget_remaining": MetadataValue.json(remaining),
                "budget_windows": MetadataValue.json(
                    {row["resource"]: int(row["windows_with_data"]) for row in budget.to_dict("records")}
                ),
                "windows_in_alarm": MetadataValue.json(in_alarm),
            },
        )


def report(location: str, built: SloReport) -> dict:
    return {
        "location": MetadataValue.path(location) if not location.startswith("s3://") else MetadataValue.url(location),
        "slos_with_data": sum(a.total > 0 for a in built.attainment),
        "slos_missed": sum(a.met is False for a in built.attainment),
        "incidents": len(built.incidents),
        "worst_windows": len(built.worst_windows),
        "attainment": MetadataValue.json(
            {f"{a.slo_id}@{a.resource}": a.attainment for a in built.attainment if a.attainment is not None}
        ),
    }
