"""Multi-window burn rates of the SLOs over 5-minute aggregates, and the error budget left.

Pure functions over pandas frames shaped like `cw_pipeline.aggregation.aggregate`'s result (columns
``service``, ``resource``, ``window_start`` and attribute columns): no I/O, no Dagster, no clock.

Every SLO is first reduced to bad and total events per 5-minute window (`window_events`):

- an `EventSLO` counts events: total = its ``total`` attribute, bad = the sum of its ``bad`` ones;
- a `WindowSLO` counts windows: a window with a value is one event, bad when the value is above
  ``good_at_most``.

A window over which the SLO has no value (no aggregate row, or an absent attribute) is "no data": it
adds nothing to either sum. A window with zero traffic is data with zero events: it adds nothing
either, so an idle hour neither burns nor refills the budget. The error ratio over a span of windows
is the sum of bad events over the sum of total events, and is undefined when the span has no events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from cw_pipeline.slos import POLICIES, SLO, SLOS, BurnRatePolicy, EventSLO, longest_window
from cw_pipeline.thresholds import State
from cw_pipeline.windows import WINDOW, Window

EVALUATION_COLUMNS = (
    "slo_id", "service", "resource", "severity", "policy", "window_start", "threshold",
    "long_bad", "long_total", "long_error_ratio", "long_burn_rate",
    "short_bad", "short_total", "short_error_ratio", "short_burn_rate", "state",
)  # fmt: skip
_KEYS = ("slo_id", "service", "resource", "severity", "window_start")


def _require_columns(aggregates: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in aggregates.columns]
    if missing:
        raise ValueError(
            f"{what} needs aggregate columns {missing}; expected the frame of aggregation.aggregate "
            f"(service, resource, window_start and attribute columns), got {list(aggregates.columns)}"
        )


def window_events(aggregates: pd.DataFrame, slo: SLO) -> pd.DataFrame:
    """Bad and total events of ``slo`` per (resource, window) of its service; both NaN where there is no data.

    Rows of other services are ignored, and an SLO attribute missing from the frame is absent (no data).

    Columns ``resource``, ``window_start``, ``bad``, ``total``, sorted by resource then window.
    """
    _require_columns(aggregates, ("service", "resource", "window_start"), f"SLO {slo.slo_id!r}")
    # An attribute no row has (items read back from DynamoDB leave absent values out) is absent everywhere.
    rows = aggregates[aggregates["service"] == slo.service.value].reindex(
        columns=["resource", "window_start", *slo.attributes]
    )
    if isinstance(slo, EventSLO):
        total = rows[slo.total].astype(float)
        bad = rows[list(slo.bad)].astype(float).sum(axis=1, min_count=len(slo.bad))
        # Counts are never absent in aggregates (catalog ZERO); a hand-made frame may still hold NaN.
        has_data = total.notna() & bad.notna()
    else:
        value = rows[slo.attribute].astype(float)
        has_data = value.notna()
        total = pd.Series(1.0, index=rows.index)
        bad = (value > slo.good_at_most).astype(float)
    events = pd.DataFrame(
        {
            "resource": rows["resource"].astype(str),
            "window_start": pd.to_datetime(rows["window_start"], utc=True),
            "bad": bad.where(has_data),
            "total": total.where(has_data),
        }
    )
    return events.sort_values(["resource", "window_start"]).reset_index(drop=True)


def _grid(events: pd.DataFrame, windows: Sequence[Window] | None) -> pd.DatetimeIndex:
    """Every 5-minute window from the first aggregate (or evaluated window) to the last, gaps included."""
    starts = list(events["window_start"])
    if windows:
        starts += [pd.Timestamp(w.start) for w in windows]
    if not starts:
        return pd.DatetimeIndex([], tz="UTC")
    return pd.date_range(min(starts), max(starts), freq=WINDOW, tz="UTC")


def _rolling(series: pd.Series, windows: int) -> pd.Series:
    """Sum over the ``windows`` 5-minute windows ending at each one; NaN when none of them has data."""
    return series.rolling(windows, min_periods=1).sum()


def _ratio(bad: pd.Series, total: pd.Series) -> pd.Series:
    return bad / total.where(total > 0)


def evaluate_burn_rates(
    aggregates: pd.DataFrame,
    windows: Sequence[Window] | None = None,
    *,
    slos: Sequence[SLO] = SLOS,
    policies: Sequence[BurnRatePolicy] = POLICIES,
) -> pd.DataFrame:
    """One row per (SLO, resource, policy row, evaluated window), with the columns of `EVALUATION_COLUMNS`.

    The long and short windows of an evaluated window end with it (the evaluated window is their last
    5-minute window). ``windows`` are the windows to evaluate (default: every window of the aggregates);
    the aggregates must also hold the history before them, `history_start` windows back, else the
    long window is summed over what is there. Resources are those of the SLO's service in the frame.

    The state is ALARM when both the long and the short burn rate are strictly above the policy's
    ``burn_rate``; INSUFFICIENT_DATA when the long window has no events (no window with data, or
    only zero traffic); OK otherwise, including when the short window alone has no events (an
    undefined short burn rate does not exceed anything).
    """
    wanted = None if windows is None else pd.DatetimeIndex([pd.Timestamp(w.start) for w in windows])
    frames = []
    for slo in slos:
        events = window_events(aggregates, slo)
        grid = _grid(events, windows)
        for resource, of_resource in events.groupby("resource", sort=True):
            per_window = of_resource.set_index("window_start")[["bad", "total"]].reindex(grid)
            for policy in policies:
                frame = _policy_frame(slo, str(resource), policy, per_window)
                frames.append(frame if wanted is None else frame[frame["window_start"].isin(wanted)])
    if not frames:
        return pd.DataFrame(columns=list(EVALUATION_COLUMNS))
    evaluations = pd.concat(frames, ignore_index=True)
    if wanted is None:  # the grid's gap windows were only there to keep the rolling spans exact
        present = aggregates[["service", "resource", "window_start"]].assign(
            window_start=lambda f: pd.to_datetime(f["window_start"], utc=True)
        )
        evaluations = evaluations.merge(present.drop_duplicates(), on=["service", "resource", "window_start"])
    return evaluations[list(EVALUATION_COLUMNS)].reset_index(drop=True)


def _span(per_window: pd.DataFrame, windows: int, error_budget: float) -> dict[str, pd.Series]:
    """Bad and total events, error ratio and burn rate over the ``windows`` windows ending at each window."""
    bad, total = _rolling(per_window["bad"], windows), _rolling(per_window["total"], windows)
    ratio = _ratio(bad, total)
    return {"bad": bad, "total": total, "error_ratio": ratio, "burn_rate": ratio / error_budget}


def _policy_frame(slo: SLO, resource: str, policy: BurnRatePolicy, per_window: pd.DataFrame) -> pd.DataFrame:
    long = _span(per_window, policy.long_windows, slo.error_budget)
    short = _span(per_window, policy.short_windows, slo.error_budget)
    # NaN compares False: an undefined burn rate never exceeds the policy's rate.
    both_exceed = (long["burn_rate"] > policy.burn_rate) & (short["burn_rate"] > policy.burn_rate)
    state = np.where(
        long["error_ratio"].isna(),
        State.INSUFFICIENT_DATA.value,
        np.where(both_exceed, State.ALARM.value, State.OK.value),
    )
    return pd.DataFrame(
        {
            "slo_id": slo.slo_id,
            "service": slo.service.value,
            "resource": resource,
            "severity": policy.severity.value,
            "policy": policy.name,
            "window_start": per_window.index,
            "threshold": policy.burn_rate,
            "long_bad": long["bad"].to_numpy(),
            "long_total": long["total"].to_numpy(),
            "long_error_ratio": long["error_ratio"].to_numpy(),
            "long_burn_rate": long["burn_rate"].to_numpy(),
            "short_bad": short["bad"].to_numpy(),
            "short_total": short["total"].to_numpy(),
            "short_error_ratio": short["error_ratio"].to_numpy(),
            "short_burn_rate": short["burn_rate"].to_numpy(),
            "state": state,
        }
    )


_STATE_RANK = {State.ALARM.value: 0, State.OK.value: 1, State.INSUFFICIENT_DATA.value: 2}


def severity_states(evaluations: pd.DataFrame) -> pd.DataFrame:
    """One row per (SLO, resource, severity, window): the state of a severity whatever row decided it.

    A severity with several policy rows (the workbook's two page rows) is in ALARM when any of its
    rows is; else OK when any row has data; else INSUFFICIENT_DATA. The row kept is the one that
    decided: the first row in ALARM in the frame's order (the policy table's), else the first with
    data, else the first. Its ``policy`` and burn rates are kept so a notification can say which
    pair of windows fired.
    """
    _require_columns(evaluations, EVALUATION_COLUMNS, "severity_states")
    ranked = evaluations.assign(_rank=evaluations["state"].map(_STATE_RANK), _order=range(len(evaluations)))
    decided = ranked.sort_values(["_rank", "_order"], kind="stable").drop_duplicates(list(_KEYS), keep="first")
    return decided.sort_values("_order").drop(columns=["_rank", "_order"]).reset_index(drop=True)


def history_start(first: Window, policies: Sequence[BurnRatePolicy] = POLICIES) -> datetime:
    """The start of the oldest window the long windows of ``first`` reach back to (the bulk Query's lower bound)."""
    return first.start - longest_window(tuple(policies)) + WINDOW


def error_budget_remaining(aggregates: pd.DataFrame, slo: SLO, until: Window) -> pd.DataFrame:
    """The fraction of ``slo``'s error budget left per resource over the compliance period ending with ``until``.

    Columns ``resource``, ``bad``, ``total``, ``windows_with_data``, ``error_ratio``, ``budget_remaining``.
    The period is the ``slo.compliance_period`` of windows whose last one is ``until``; with less
    history than that, the budget is that of the events present (``windows_with_data`` says how many).
    ``budget_remaining`` is 1 - error_ratio / error_budget: 1 with no bad event, 0 when the budget is
    exactly spent, negative when overspent, NaN when the period has no events.
    """
    events = window_events(aggregates, slo)
    first = until.start - slo.compliance_period + WINDOW
    in_period = events[(events["window_start"] >= first) & (events["window_start"] <= until.start)]
    summed = in_period.groupby("resource", sort=True).agg(
        bad=("bad", "sum"), total=("total", "sum"), windows_with_data=("total", "count")
    )
    summed["error_ratio"] = _ratio(summed["bad"], summed["total"])
    summed["budget_remaining"] = 1 - summed["error_ratio"] / slo.error_budget
    return summed.reset_index()
