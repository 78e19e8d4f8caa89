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
    # The ends only: iterating hundreds of thousands of timestamps costs seconds.
    starts = [events["window_start"].min(), events["window_start"].max()] if not events.empty else []
    if windows:
        starts += [pd.Timestamp(w.start) for w in windows]
    if not starts:
        return pd.DatetimeIndex([], tz="UTC")
    return pd.date_range(min(starts), max(starts), freq=WINDOW, tz="UTC")


def _rolling(events: pd.DataFrame, windows: int) -> pd.DataFrame:
    """Sum over the ``windows`` 5-minute windows ending at each one, per column; NaN when none of them has data."""
    return events.rolling(windows, min_periods=1).sum()


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
        if events.empty or not policies:
            continue
        grid = _grid(events, windows)
        # One column per resource over the grid, gaps as NaN: every resource's rolling sums in one call
        # per span (a column is summed exactly as a resource's own series would be).
        wide = events.pivot(index="window_start", columns="resource", values=["bad", "total"]).reindex(grid)
        evaluated = np.ones(len(grid), dtype=bool) if wanted is None else grid.isin(wanted)
        frames.append(_slo_frame(slo, policies, wide["bad"], wide["total"], evaluated))
    if not frames:
        return pd.DataFrame(columns=list(EVALUATION_COLUMNS))
    evaluations = pd.concat(frames, ignore_index=True)
    if wanted is None:  # the grid's gap windows were only there to keep the rolling spans exact
        present = aggregates[["service", "resource", "window_start"]].assign(
            window_start=lambda f: pd.to_datetime(f["window_start"], utc=True)
        )
        evaluations = evaluations.merge(present.drop_duplicates(), on=["service", "resource", "window_start"])
    return evaluations[list(EVALUATION_COLUMNS)].reset_index(drop=True)


def _span(
    bad: pd.DataFrame, total: pd.DataFrame, windows: int, error_budget: float, evaluated: np.ndarray
) -> dict[str, np.ndarray]:
    """Bad and total events, error ratio and burn rate over the ``windows`` windows ending at each evaluated
    window (rows of the grid where ``evaluated``, one column per resource)."""
    bad = _rolling(bad, windows).to_numpy()[evaluated]
    total = _rolling(total, windows).to_numpy()[evaluated]
    ratio = bad / np.where(total > 0, total, np.nan)
    return {"bad": bad, "total": total, "error_ratio": ratio, "burn_rate": ratio / error_budget}


def _slo_frame(
    slo: SLO, policies: Sequence[BurnRatePolicy], bad: pd.DataFrame, total: pd.DataFrame, evaluated: np.ndarray
) -> pd.DataFrame:
    """The rows of ``slo`` for every resource (a column of ``bad`` and ``total``), policy and evaluated
    window of the grid (the rows where ``evaluated``), ordered by resource, then policy, then window."""
    resources = list(bad.columns)
    starts = bad.index[evaluated]
    columns: dict[str, list[np.ndarray]] = {}
    spans: dict[int, dict[str, np.ndarray]] = {}  # policies share spans (the 6 h of page_slow and ticket)
    for policy in policies:
        for windows in (policy.long_windows, policy.short_windows):
            if windows not in spans:
                spans[windows] = _span(bad, total, windows, slo.error_budget, evaluated)
        long, short = spans[policy.long_windows], spans[policy.short_windows]
        # NaN compares False: an undefined burn rate never exceeds the policy's rate.
        both_exceed = (long["burn_rate"] > policy.burn_rate) & (short["burn_rate"] > policy.burn_rate)
        state = np.where(
            np.isnan(long["error_ratio"]),
            State.INSUFFICIENT_DATA.value,
            np.where(both_exceed, State.ALARM.value, State.OK.value),
        )
        named = {f"{name}_{part}": span[part] for name, span in (("long", long), ("short", short)) for part in span}
        for name, values in [*named.items(), ("state", state)]:
            columns.setdefault(name, []).append(values.T)  # (window, resource) -> (resource, window)
    per_resource = len(policies) * len(starts)
    by_resource = {name: np.stack(blocks, axis=1).reshape(-1) for name, blocks in columns.items()}

    def repeated(per_policy: list) -> np.ndarray:  # a policy's value on each of its rows, for every resource
        return np.tile(np.repeat(np.array(per_policy), len(starts)), len(resources))

    return pd.DataFrame(
        {
            "slo_id": slo.slo_id,
            "service": slo.service.value,
            "resource": np.repeat(np.array(resources, dtype=str), per_resource),
            "severity": repeated([p.severity.value for p in policies]),
            "policy": repeated([p.name for p in policies]),
            "window_start": starts.take(np.tile(np.arange(len(starts)), len(resources) * len(policies))),
            "threshold": repeated([float(p.burn_rate) for p in policies]),
            **by_resource,
        }
    )[list(EVALUATION_COLUMNS)]


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
    """The start of the oldest window the long windows of ``first`` reach back to: where the SLO history read
    starts."""
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
