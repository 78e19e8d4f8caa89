"""The daily SLO report: attainment and error budget, incidents, worst windows. Pure functions, no I/O.

Inputs are the 5-minute aggregates (the frame of `cw_pipeline.aggregation.aggregate`, read back from
the table over the SLOs' compliance period that ends with the day) and the evaluation items stored by
the threshold rules and the burn-rate evaluation for the day. `cw_pipeline.slo_report_html` renders the
result; `cw_pipeline.defs.slo_assets` reads and writes.

- Attainment of an SLO on a resource is its good events over its total events in the day, in percent
  (`burn_rate.window_events`: requests for an event SLO, windows with a value for a window SLO);
  undefined when the day has no events. The error budget remaining is over the SLO's compliance
  period ending with the day's last window (`burn_rate.error_budget_remaining`).
- An incident is a run of consecutive ALARM windows of one rule (or one SLO severity) on one resource:
  it starts at the first window's start and ends at the last window's end; its peak is the highest
  stored value (the rule's metric, or the pair burn rate of the row that decided). A run that touches the day's first or
  last window and was ALARM before or after it is marked as continuing.
- The worst windows of an SLO are its windows with the most bad events relative to its budget: the
  highest error ratio for an event SLO, the highest value above the bound for a window SLO.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from cw_pipeline import naming
from cw_pipeline.burn_rate import error_budget_remaining, window_events
from cw_pipeline.slos import SLO, SLOS, EventSLO
from cw_pipeline.thresholds import State
from cw_pipeline.windows import WINDOW, Window

WORST_WINDOWS_PER_SLO = 5


@dataclass(frozen=True)
class Attainment:
    slo_id: str
    resource: str
    objective: float  # percent
    good: float
    total: float
    attainment: float | None  # percent of the day's events that were good; None without events
    budget_remaining: float | None  # fraction of the compliance period's budget left; None without events
    budget_windows: int  # windows with data in the compliance period the budget was computed over

    @property
    def met(self) -> bool | None:
        return None if self.attainment is None else self.attainment >= self.objective


@dataclass(frozen=True)
class Incident:
    kind: str  # "threshold" or "burn_rate"
    name: str  # the rule id, or "{slo_id} {severity}"
    resource: str
    start: datetime
    end: datetime
    peak: float | None
    threshold: float | None
    began_before: bool  # already in ALARM in the window before the day
    still_open: bool  # in ALARM in the day's last window

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class WorstWindow:
    slo_id: str
    resource: str
    window_start: datetime
    measure: str  # what ``value`` is: "error ratio" or the window SLO's attribute
    value: float
    bad: float
    total: float


@dataclass(frozen=True)
class BurnSeries:
    """An SLO's burn rate per 5-minute window of the day on one resource (NaN: no events), for the chart."""

    slo_id: str
    resource: str
    window_starts: tuple[datetime, ...]
    burn_rates: tuple[float, ...]


@dataclass(frozen=True)
class SloReport:
    start: datetime
    end: datetime
    generated_at: datetime
    attainment: tuple[Attainment, ...]
    incidents: tuple[Incident, ...]
    worst_windows: tuple[WorstWindow, ...]
    series: tuple[BurnSeries, ...]


def _day_windows(start: datetime, end: datetime) -> pd.DatetimeIndex:
    return pd.date_range(start, end - WINDOW, freq=WINDOW, tz="UTC")


def _in_day(events: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    return events[(events["window_start"] >= pd.Timestamp(start)) & (events["window_start"] < pd.Timestamp(end))]


def _float_or_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def attainment(
    aggregates: pd.DataFrame, start: datetime, end: datetime, slos: Sequence[SLO] = SLOS
) -> list[Attainment]:
    """Per SLO and resource of its service in ``aggregates``: the day's attainment and the budget left."""
    last = Window(end - WINDOW)
    rows = []
    for slo in slos:
        events = window_events(aggregates, slo)
        budget = error_budget_remaining(aggregates, slo, last).set_index("resource")
        day = _in_day(events, start, end).groupby("resource", sort=True).agg(bad=("bad", "sum"), total=("total", "sum"))
        for resource in sorted(set(events["resource"])):
            bad = float(day.loc[resource, "bad"]) if resource in day.index else 0.0
            total = float(day.loc[resource, "total"]) if resource in day.index else 0.0
            has_budget = resource in budget.index
            rows.append(
                Attainment(
                    slo_id=slo.slo_id,
                    resource=resource,
                    objective=slo.objective,
                    good=total - bad,
                    total=total,
                    attainment=100.0 * (total - bad) / total if total > 0 else None,
                    budget_remaining=_float_or_none(budget.loc[resource, "budget_remaining"]) if has_budget else None,
                    budget_windows=int(budget.loc[resource, "windows_with_data"]) if has_budget else 0,
                )
            )
    return rows


def _incident_name(item: dict) -> tuple[str, str]:
    if item.get("kind") == "burn_rate":
        return "burn_rate", f"{item['slo_id']} {item['severity']}"
    return "threshold", str(item["rule_id"])


def incidents(evaluation_items: Iterable[dict], start: datetime, end: datetime) -> list[Incident]:
    """The ALARM intervals of the day in evaluation items (threshold and burn-rate), oldest first."""
    by_pk: dict[str, list[dict]] = {}
    for item in evaluation_items:
        window_start = naming.parse_window_sk(item["window_start"])
        if start <= window_start < end:
            by_pk.setdefault(item["pk"], []).append(item)
    found: list[Incident] = []
    for items in by_pk.values():
        items.sort(key=lambda i: i["sk"])
        run: list[dict] = []
        for item in items:
            alarm = item["state"] == State.ALARM.value
            if alarm and run and item["window_start"] == run[-1]["window_end"]:
                run.append(item)
                continue
            if run:
                found.append(_incident(run, start, end))
            run = [item] if alarm else []
        if run:
            found.append(_incident(run, start, end))
    return sorted(found, key=lambda i: (i.start, i.kind, i.name, i.resource))


def _incident(run: list[dict], day_start: datetime, day_end: datetime) -> Incident:
    first, last = run[0], run[-1]
    kind, name = _incident_name(first)
    values = [float(i["value"]) for i in run if i.get("value") is not None]
    began = naming.parse_window_sk(first["window_start"])
    ended = naming.parse_window_sk(last["window_end"])
    return Incident(
        kind=kind,
        name=name,
        resource=str(first["resource"]),
        start=began,
        end=ended,
        peak=max(values) if values else None,
        threshold=float(first["threshold"]) if first.get("threshold") is not None else None,
        began_before=began == day_start and first.get("previous_state") == State.ALARM.value,
        still_open=ended == day_end,
    )


def worst_windows(
    aggregates: pd.DataFrame,
    start: datetime,
    end: datetime,
    slos: Sequence[SLO] = SLOS,
    per_slo: int = WORST_WINDOWS_PER_SLO,
) -> list[WorstWindow]:
    """Up to ``per_slo`` windows per SLO with bad events, worst first (ties: the earlier window first)."""
    found: list[WorstWindow] = []
    for slo in slos:
        events = _in_day(window_events(aggregates, slo), start, end)
        events = events[events["bad"] > 0]
        if isinstance(slo, EventSLO):
            scored = events.assign(value=events["bad"] / events["total"], measure="error ratio")
        else:
            # reindex: a frame read back from the table has no column for an attribute no item holds.
            values = aggregates[aggregates["service"] == slo.service.value].reindex(
                columns=["resource", "window_start", slo.attribute]
            )
            values = values.assign(window_start=pd.to_datetime(values["window_start"], utc=True))
            scored = events.merge(values, on=["resource", "window_start"]).rename(columns={slo.attribute: "value"})
            scored = scored.assign(measure=slo.attribute)
        worst = scored.sort_values(["value", "window_start"], ascending=[False, True], kind="stable").head(per_slo)
        found.extend(
            WorstWindow(
                slo.slo_id,
                str(row["resource"]),
                row["window_start"].to_pydatetime(),
                str(row["measure"]),
                float(row["value"]),
                float(row["bad"]),
                float(row["total"]),
            )
            for row in worst.to_dict("records")
        )
    return found


def burn_series(
    aggregates: pd.DataFrame, start: datetime, end: datetime, slos: Sequence[SLO] = SLOS
) -> list[BurnSeries]:
    """Per SLO and resource, the burn rate of each window of the day alone: its error ratio over the budget."""
    grid = _day_windows(start, end)
    series = []
    for slo in slos:
        events = _in_day(window_events(aggregates, slo), start, end)
        for resource, of_resource in events.groupby("resource", sort=True):
            per_window = of_resource.set_index("window_start")[["bad", "total"]].reindex(grid)
            burn = per_window["bad"] / per_window["total"].where(per_window["total"] > 0) / slo.error_budget
            series.append(
                BurnSeries(
                    slo.slo_id,
                    str(resource),
                    tuple(t.to_pydatetime() for t in grid),
                    tuple(float(v) for v in burn),
                )
            )
    return series


def build_report(
    aggregates: pd.DataFrame,
    evaluation_items: Iterable[dict],
    start: datetime,
    end: datetime,
    generated_at: datetime,
    slos: Sequence[SLO] = SLOS,
) -> SloReport:
    """The report of ``[start, end)`` (a UTC day, or any whole number of windows)."""
    if start >= end or (end - start) % WINDOW:
        raise ValueError(f"report period {start} .. {end} is not a positive whole number of 5-minute windows")
    Window(start)  # refuses a start off a 5-minute mark, naming it
    return SloReport(
        start=start,
        end=end,
        generated_at=generated_at,
        attainment=tuple(attainment(aggregates, start, end, slos)),
        incidents=tuple(incidents(evaluation_items, start, end)),
        worst_windows=tuple(worst_windows(aggregates, start, end, slos)),
        series=tuple(burn_series(aggregates, start, end, slos)),
    )
