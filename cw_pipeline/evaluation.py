"""Threshold evaluation: every rule for every resource and window, and which transitions notify.

Pure functions. A rule's state in a window is compared with the same rule's state in the previous
window; a window with no earlier evaluation counts as coming from INSUFFICIENT_DATA, the state a
CloudWatch alarm starts in.

What a window owes its subscribers depends on what was already notified for it (``notified_state``,
remembered on the stored evaluation): nothing notified yet and a transition into ALARM, or ALARM -> OK,
owes a *transition*; a notified state that late data has since changed owes a *correction* (from the
notified state to the new one); a window whose notified state is its state owes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import pandas as pd

from cw_pipeline import naming
from cw_pipeline.aggregation import expires_at
from cw_pipeline.thresholds import RULES, State, ThresholdRule
from cw_pipeline.windows import Window


class Kind(StrEnum):
    """What a notification tells its subscriber (the ``kind`` message attribute)."""

    TRANSITION = "transition"
    CORRECTION = "correction"


class NotificationTrail:
    """What every notifiable evaluation shares (threshold rules here, SLO burn rates in
    `cw_pipeline.slo_evaluation`): which transitions notify, what a window owes given what was already
    notified for it, and the stored attributes that remember it. `cw_pipeline.outbox` reads these.

    Mixed into frozen dataclasses with ``state``, ``previous_state``, ``notified_state`` (the last state
    notified for the window, by any earlier run), ``notifications`` (how many were recorded, part of each
    one's id) and ``notification_id`` (the last one's id).
    """

    state: State
    previous_state: State
    notified_state: State | None
    notifications: int
    notification_id: str | None

    @property
    def is_notifiable_transition(self) -> bool:
        if self.state == self.previous_state:
            return False
        return self.state is State.ALARM or (self.state is State.OK and self.previous_state is State.ALARM)

    @property
    def owes(self) -> Kind | None:
        """The notification this evaluation owes its subscribers, if any (see the module docstring)."""
        if self.notified_state is None:
            return Kind.TRANSITION if self.is_notifiable_transition else None
        return Kind.CORRECTION if self.state is not self.notified_state else None

    def verb(self) -> str:
        """The state a subject line announces; a correction says what it corrects: ``CORRECTION ALARM->OK``."""
        if self.owes is Kind.CORRECTION:
            return f"CORRECTION {self.notified_state.value}->{self.state.value}"
        return self.state.value

    def trail_attributes(self) -> dict:
        """``notified`` (whether the current state has been notified) and the notification fields, carried
        over from the stored item until a publish is recorded."""
        attributes: dict = {"notified": self.notified_state is self.state}
        if self.notified_state is not None:
            attributes["notified_state"] = self.notified_state.value
            attributes["notifications"] = self.notifications
        if self.notification_id is not None:
            attributes["notification_id"] = self.notification_id
        return attributes


@dataclass(frozen=True)
class Evaluation(NotificationTrail):
    rule: ThresholdRule
    resource: str
    window: Window
    value: float | None
    state: State
    previous_state: State
    notified_state: State | None = None
    notifications: int = 0
    notification_id: str | None = None

    @property
    def pk(self) -> str:
        return naming.evaluation_pk(self.rule.rule_id, self.resource)

    @property
    def sk(self) -> str:
        return naming.window_sk(self.window.start)

    def message(self) -> dict:
        """The JSON body of the SNS notification (the README's notification contract), before the
        fields that say which notification it is (`cw_pipeline.outbox` adds them)."""
        return {
            "rule_id": self.rule.rule_id,
            "service": self.rule.service.value,
            "resource": self.resource,
            "state": self.state.value,
            "previous_state": self.previous_state.value,
            "window_start": naming.window_sk(self.window.start),
            "window_end": naming.window_sk(self.window.end),
            "value": self.value,
            "threshold": self.rule.threshold,
        }

    def subject(self, env: str) -> str:
        """A subject that fits SNS's 100 characters: what and where first; the window is in the body.
        A correction says what it corrects: ``CORRECTION ALARM->OK``."""
        shown = "no data" if self.value is None else f"{self.value:.4g}"
        what = f"{self.rule.rule_id}: {shown} vs {self.rule.threshold:g} on {self.resource}"
        subject = f"[cw-analytics {env}] {self.verb()} {what}"
        return subject[:100]

    def item(self, run_id: str, evaluated_at: datetime, retention_days: int) -> dict:
        """The stored evaluation. ``notified`` is whether its current state has been notified; the
        notification fields are carried over from the stored item until a publish is recorded."""
        item = {
            "pk": self.pk,
            "sk": self.sk,
            "rule_id": self.rule.rule_id,
            "service": self.rule.service.value,
            "resource": self.resource,
            "metric": self.rule.attribute,
            "threshold": self.rule.threshold,
            "state": self.state.value,
            "previous_state": self.previous_state.value,
            "window_start": naming.window_sk(self.window.start),
            "window_end": naming.window_sk(self.window.end),
            "evaluated_at": naming.window_sk(evaluated_at.replace(microsecond=0)),
            "run_id": run_id,
            "expires_at": expires_at(self.window, retention_days),
        }
        if self.value is not None:
            item["value"] = self.value
        return {**item, **self.trail_attributes()}


def evaluation_keys(
    aggregates: pd.DataFrame, windows: Sequence[Window], rules: Sequence[ThresholdRule] = RULES
) -> list[tuple[str, str]]:
    """The ``(pk, sk)`` of every stored evaluation `evaluate` needs: for each rule and resource, the window
    before the first one (its previous state) and every evaluated window (what was already notified)."""
    sort_keys = [naming.window_sk(windows[0].previous.start), *(naming.window_sk(w.start) for w in windows)]
    resources = resources_by_service(aggregates["service"].tolist(), aggregates["resource"].tolist())
    keys = []
    for rule in rules:
        for resource in sorted(resources.get(rule.service.value, ())):
            pk = naming.evaluation_pk(rule.rule_id, resource)
            keys.extend((pk, sk) for sk in sort_keys)
    return keys


def evaluate(
    aggregates: pd.DataFrame,
    stored: Mapping[tuple[str, str], Mapping],
    rules: Sequence[ThresholdRule] = RULES,
) -> list[Evaluation]:
    """Evaluate ``rules`` over the aggregates, oldest window first within each (rule, resource).

    ``stored`` maps ``(pk, sk)`` to evaluation items already in the table: the window before the
    first one evaluated (for its previous state) and the evaluated windows themselves (to know which
    transitions were already notified).
    """
    # The frame is read once, column by column, and grouped in Python: filtering it per rule and resource
    # and converting each group to records cost seconds on a thousand-resource estate.
    ordered = aggregates.sort_values("window_start", kind="stable")
    rows = resources_by_service(ordered["service"].tolist(), ordered["resource"].tolist())
    windows = WindowKeys(ordered["window_start"].tolist())
    columns: dict[str, list] = {}
    evaluations: list[Evaluation] = []
    for rule in rules:
        if rule.attribute not in columns:
            present = rule.attribute in ordered.columns
            columns[rule.attribute] = ordered[rule.attribute].tolist() if present else [None] * len(ordered)
        values = columns[rule.attribute]
        for resource, indices in sorted(rows.get(rule.service.value, {}).items()):
            pk = naming.evaluation_pk(rule.rule_id, resource)
            before = stored.get((pk, windows.previous_sk(indices[0])))
            previous = State(before["state"]) if before else State.INSUFFICIENT_DATA
            for index in indices:
                raw = values[index]
                value = None if raw is None or math.isnan(raw) else float(raw)
                state = rule.evaluate(value)
                notified = notified_trail(stored.get((pk, windows.sk(index))))
                evaluations.append(Evaluation(rule, resource, windows.window(index), value, state, previous, *notified))
                previous = state
    return evaluations


def resources_by_service(services: Sequence, resources: Sequence) -> dict[str, dict[str, list[int]]]:
    """Row positions grouped by service, then resource, in the order of the rows."""
    grouped: dict[str, dict[str, list[int]]] = {}
    for index, (service, resource) in enumerate(zip(services, resources, strict=True)):
        grouped.setdefault(service, {}).setdefault(resource, []).append(index)
    return grouped


class WindowKeys:
    """The window of each row of a frame, and the sort keys of it and of the window before it, built once
    per distinct window start (a run has a few windows and thousands of rows)."""

    def __init__(self, starts: Sequence) -> None:
        self._starts = starts
        self._windows: dict = {}

    def _of(self, index: int) -> tuple[Window, str, str]:
        start = self._starts[index]
        if start not in self._windows:
            window = Window(start.to_pydatetime())
            self._windows[start] = (window, naming.window_sk(window.start), naming.window_sk(window.previous.start))
        return self._windows[start]

    def window(self, index: int) -> Window:
        return self._of(index)[0]

    def sk(self, index: int) -> str:
        return self._of(index)[1]

    def previous_sk(self, index: int) -> str:
        return self._of(index)[2]


def notified_trail(existing: Mapping | None) -> tuple[State | None, int, str | None]:
    """What was notified for a stored evaluation: its state, how many notifications, the last id.

    Items written before ``notified_state`` existed recorded only ``notified = true`` for their state.
    """
    if not existing:
        return None, 0, None
    if "notified_state" in existing:
        return State(existing["notified_state"]), int(existing.get("notifications", 1)), existing.get("notification_id")
    if existing.get("notified") is True:
        return State(existing["state"]), 1, None
    return None, 0, None
