"""Backtesting: replay a candidate rule over stored aggregates, next to the current rule.

A rule under test (a `Signal`) is a threshold rule (`thresholds.ThresholdRule`, possibly with another
threshold) or an SLO at one severity (possibly with another objective). Both are replayed over the same
windows with the pipeline's own semantics: a resource starts in INSUFFICIENT_DATA, and a transition
into ALARM, or ALARM -> OK, is a notification (`evaluation`, `slo_evaluation`). So replaying today's
rule reproduces what the pipeline notified for the same windows.

For each signal: the alerts (transitions into ALARM) and every notification it would have sent, the
time in ALARM, flapping (transitions into or out of ALARM per day), and its ALARM intervals. The two
are compared interval by interval: an interval is caught by the other signal when one of the other's
intervals overlaps it in time (on the same resource when both watch the same service).

The reading goes through a store with `read_aggregates` (`defs.resources.MetricStore`): one Query per
resource over the replayed days, plus the long windows' history for an SLO.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pandas as pd

from cw_pipeline.burn_rate import evaluate_burn_rates, history_start, severity_states
from cw_pipeline.catalog import Service
from cw_pipeline.config import MonitoredResource
from cw_pipeline.slos import POLICIES, SLO, Severity, policies_for, slo
from cw_pipeline.thresholds import State, ThresholdRule, rule
from cw_pipeline.windows import CLOUDWATCH_5MIN_RETENTION, WINDOW, Window, floor_to_window, windows_between

DAY = timedelta(days=1)
MAX_DAYS = CLOUDWATCH_5MIN_RETENTION.days


class AggregateReader(Protocol):
    def read_aggregates(
        self, resources: Sequence[MonitoredResource], first: datetime, last: datetime
    ) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Signal:
    """A threshold rule, or an SLO at one severity; ``states`` replays it over aggregates."""

    label: str
    service: Service
    threshold_rule: ThresholdRule | None = None
    slo: SLO | None = None
    severity: Severity | None = None

    @property
    def needs_history(self) -> bool:
        return self.slo is not None

    def states(self, aggregates: pd.DataFrame, windows: Sequence[Window]) -> pd.DataFrame:
        """Columns ``resource``, ``window_start``, ``state``, ``value`` for every resource and window."""
        if self.threshold_rule is not None:
            rows = aggregates[aggregates["service"] == self.service.value]
            rows = rows[rows["window_start"].isin([pd.Timestamp(w.start) for w in windows])]
            values = rows.get(self.threshold_rule.attribute, math.nan)
            frame = rows[["resource", "window_start"]].assign(value=values)
            states = [self.threshold_rule.evaluate(None if pd.isna(v) else float(v)).value for v in frame["value"]]
            return frame.assign(state=states).reset_index(drop=True)
        policies = policies_for(self.severity)
        decided = severity_states(evaluate_burn_rates(aggregates, windows, slos=[self.slo], policies=policies))
        # The pair's burn rate, as `slo_evaluation.BurnRateEvaluation.value`: above the rate exactly when it fires.
        pair = decided[["long_burn_rate", "short_burn_rate"]].assign(
            short_burn_rate=decided["short_burn_rate"].fillna(0)
        )
        return decided[["resource", "window_start", "state"]].assign(value=pair.min(axis=1, skipna=False))


def threshold_signal(rule_id: str, threshold: float | None = None) -> Signal:
    current = rule(rule_id)
    chosen = current if threshold is None else dataclasses.replace(current, threshold=float(threshold))
    return Signal(f"{rule_id} > {chosen.threshold:g}", current.service, threshold_rule=chosen)


def slo_signal(slo_id: str, severity: str = Severity.PAGE.value, objective: float | None = None) -> Signal:
    try:
        level = Severity(severity)
    except ValueError:
        raise ValueError(f"severity {severity!r} is not one of {', '.join(s.value for s in Severity)}") from None
    current = slo(slo_id)
    chosen = current if objective is None else dataclasses.replace(current, objective=float(objective))
    return Signal(f"{slo_id} {chosen.objective:g} % {level.value}", current.service, slo=chosen, severity=level)


@dataclass(frozen=True)
class Notification:
    resource: str
    window_start: datetime
    state: str
    previous_state: str
    value: float | None


@dataclass(frozen=True)
class Interval:
    resource: str
    start: datetime
    end: datetime
    peak: float | None


@dataclass(frozen=True)
class Replay:
    signal: Signal
    windows: int
    notifications: tuple[Notification, ...]
    intervals: tuple[Interval, ...]
    windows_in_alarm: int
    transitions: int  # into or out of ALARM

    @property
    def alerts(self) -> int:
        return sum(n.state == State.ALARM.value for n in self.notifications)

    @property
    def time_in_alarm(self) -> timedelta:
        return self.windows_in_alarm * WINDOW

    @property
    def days(self) -> float:
        return self.windows * WINDOW / DAY

    @property
    def transitions_per_day(self) -> float:
        return self.transitions / self.days


def replay(signal: Signal, aggregates: pd.DataFrame, windows: Sequence[Window]) -> Replay:
    """``signal`` over ``windows`` of ``aggregates`` (which also hold the history an SLO needs)."""
    states = signal.states(aggregates, windows).sort_values(["resource", "window_start"])
    notifications: list[Notification] = []
    intervals: list[Interval] = []
    transitions = 0
    for resource, rows in states.groupby("resource", sort=True):
        previous, opened, peak = State.INSUFFICIENT_DATA.value, None, None
        for row in rows.to_dict("records"):
            state, start = row["state"], row["window_start"].to_pydatetime()
            value = None if pd.isna(row["value"]) else float(row["value"])
            if state != previous and State.ALARM.value in (state, previous):
                transitions += 1
                if state == State.ALARM.value or state == State.OK.value:
                    notifications.append(Notification(str(resource), start, state, previous, value))
            if state == State.ALARM.value:
                opened = opened or start
                peak = value if peak is None or (value is not None and value > peak) else peak
            elif opened is not None:
                intervals.append(Interval(str(resource), opened, start, peak))
                opened, peak = None, None
            previous = state
        if opened is not None:
            intervals.append(Interval(str(resource), opened, rows["window_start"].max().to_pydatetime() + WINDOW, peak))
    return Replay(
        signal=signal,
        windows=len(windows),
        notifications=tuple(notifications),
        intervals=tuple(sorted(intervals, key=lambda i: (i.start, i.resource))),
        windows_in_alarm=int((states["state"] == State.ALARM.value).sum()),
        transitions=transitions,
    )


@dataclass(frozen=True)
class Comparison:
    current: Replay
    candidate: Replay
    start: datetime
    end: datetime

    def _missed_by(self, ours: Replay, theirs: Replay) -> tuple[Interval, ...]:
        same_service = ours.signal.service == theirs.signal.service
        return tuple(
            mine
            for mine in ours.intervals
            if not any(
                other.start < mine.end
                and mine.start < other.end
                and (not same_service or other.resource == mine.resource)
                for other in theirs.intervals
            )
        )

    @property
    def only_current(self) -> tuple[Interval, ...]:
        """ALARM intervals of the current rule that the candidate would have missed."""
        return self._missed_by(self.current, self.candidate)

    @property
    def only_candidate(self) -> tuple[Interval, ...]:
        """ALARM intervals of the candidate that the current rule misses."""
        return self._missed_by(self.candidate, self.current)


def backtest_windows(days: float, until: datetime) -> list[Window]:
    """The windows of the ``days`` before ``until`` (rounded down to a window), oldest first; a fraction of
    a window counts as a whole one."""
    if not 0 < days <= MAX_DAYS:
        raise ValueError(
            f"days={days!r}: expected more than 0 and at most {MAX_DAYS} (CloudWatch's 5-minute retention)"
        )
    end = floor_to_window(until)
    count = math.ceil(days * (DAY / WINDOW) - 1e-9)  # 14 / 288 days is 14 windows despite float rounding
    return windows_between(end - count * WINDOW, end)


def run_backtest(
    store: AggregateReader,
    resources: Sequence[MonitoredResource],
    current: Signal,
    candidate: Signal,
    windows: Sequence[Window],
) -> Comparison:
    """Read the aggregates both signals need (one Query per resource) and replay both over ``windows``."""
    if not windows:
        raise ValueError("no window to replay; expected at least one 5-minute window")
    services = {current.service, candidate.service}
    watched = [r for r in resources if r.service in services]
    if not watched:
        raise ValueError(f"no monitored resource of {', '.join(sorted(s.value for s in services))} to replay over")
    policies = [p for s in (current, candidate) if s.needs_history for p in policies_for(s.severity, POLICIES)]
    first = history_start(windows[0], policies) if policies else windows[0].start
    aggregates = store.read_aggregates(watched, first, windows[-1].start)
    return Comparison(
        current=replay(current, aggregates, windows),
        candidate=replay(candidate, aggregates, windows),
        start=windows[0].start,
        end=windows[-1].end,
    )


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds()) // 60
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _interval(interval: Interval) -> str:
    peak = "" if interval.peak is None else f", peak {interval.peak:.4g}"
    span = _duration(interval.end - interval.start)
    return f"{interval.resource} {interval.start:%Y-%m-%d %H:%M} .. {interval.end:%H:%M} ({span}{peak})"


def render_text(comparison: Comparison) -> str:
    """The comparison as a plain-text table, then the intervals only one of the two caught."""
    current, candidate = comparison.current, comparison.candidate
    rows = [
        ("", "current", "candidate"),
        ("rule", current.signal.label, candidate.signal.label),
        ("alerts (into ALARM)", str(current.alerts), str(candidate.alerts)),
        ("notifications (ALARM and OK)", str(len(current.notifications)), str(len(candidate.notifications))),
        ("time in ALARM", _duration(current.time_in_alarm), _duration(candidate.time_in_alarm)),
        ("transitions per day", f"{current.transitions_per_day:.2f}", f"{candidate.transitions_per_day:.2f}"),
        ("ALARM intervals", str(len(current.intervals)), str(len(candidate.intervals))),
        ("caught only by this rule", str(len(comparison.only_current)), str(len(comparison.only_candidate))),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"backtest over {comparison.start:%Y-%m-%d %H:%M} .. {comparison.end:%Y-%m-%d %H:%M} UTC "
        f"({current.windows} windows, {current.days:.2f} days)",
        *("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows),
    ]
    for title, intervals in (
        ("only the current rule caught", comparison.only_current),
        ("only the candidate caught", comparison.only_candidate),
    ):
        lines.append(f"{title}: {'none' if not intervals else ''}".rstrip())
        lines.extend(f"  {_interval(i)}" for i in intervals)
    return "\n".join(lines)
