"""Threshold evaluation: every rule for every resource and window, and which transitions notify.

Pure functions. A rule's state in a window is compared with the same rule's state in the previous
window; a window with no earlier evaluation counts as coming from INSUFFICIENT_DATA, the state a
CloudWatch alarm starts in. A transition into ALARM, and ALARM -> OK, notifies exactly once: an
evaluation already stored with the same state, previous state and ``notified`` is not sent again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from cw_pipeline import naming
from cw_pipeline.aggregation import expires_at
from cw_pipeline.thresholds import RULES, State, ThresholdRule
from cw_pipeline.windows import Window


@dataclass(frozen=True)
class Evaluation:
    rule: ThresholdRule
    resource: str
    window: Window
    value: float | None
    state: State
    previous_state: State
    already_notified: bool  # this same transition was stored as notified by an earlier run

    @property
    def is_notifiable_transition(self) -> bool:
        if self.state == self.previous_state:
            return False
        return self.state is State.ALARM or (self.state is State.OK and self.previous_state is State.ALARM)

    @property
    def needs_notification(self) -> bool:
        return self.is_notifiable_transition and not self.already_notified

    @property
    def pk(self) -> str:
        return naming.evaluation_pk(self.rule.rule_id, self.resource)

    @property
    def sk(self) -> str:
        return naming.window_sk(self.window.start)

    def message(self) -> dict:
        """The JSON body of the SNS notification (the README's notification contract)."""
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
        """A subject that fits SNS's 100 characters: what and where first; the window is in the body."""
        verb = "ALARM" if self.state is State.ALARM else "OK"
        shown = "no data" if self.value is None else f"{self.value:.4g}"
        subject = (
            f"[cw-analytics {env}] {verb} {self.rule.rule_id}: {shown} vs {self.rule.threshold:g} on {self.resource}"
        )
        return subject[:100]

    def item(self, notified: bool, run_id: str, evaluated_at: datetime, retention_days: int) -> dict:
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
            "notified": notified,
            "window_start": naming.window_sk(self.window.start),
            "window_end": naming.window_sk(self.window.end),
            "evaluated_at": naming.window_sk(evaluated_at.replace(microsecond=0)),
            "run_id": run_id,
            "expires_at": expires_at(self.window, retention_days),
        }
        if self.value is not None:
            item["value"] = self.value
        return item


def evaluation_keys(
    aggregates: pd.DataFrame, windows: Sequence[Window], rules: Sequence[ThresholdRule] = RULES
) -> list[tuple[str, str]]:
    """The ``(pk, sk)`` of every stored evaluation `evaluate` needs: for each rule and resource, the window
    before the first one (its previous state) and every evaluated window (what was already notified)."""
    sort_keys = [naming.window_sk(windows[0].previous.start), *(naming.window_sk(w.start) for w in windows)]
    keys = []
    for rule in rules:
        resources = aggregates.loc[aggregates["service"] == rule.service.value, "resource"].unique()
        for resource in sorted(resources):
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
    evaluations: list[Evaluation] = []
    for rule in rules:
        of_service = aggregates[aggregates["service"] == rule.service.value].sort_values("window_start")
        for resource, rows in of_service.groupby("resource", sort=True):
            previous: State | None = None
            for row in rows.to_dict("records"):
                window = Window(row["window_start"].to_pydatetime())
                pk = naming.evaluation_pk(rule.rule_id, resource)
                if previous is None:
                    before = stored.get((pk, naming.window_sk(window.previous.start)))
                    previous = State(before["state"]) if before else State.INSUFFICIENT_DATA
                raw = row.get(rule.attribute)
                value = None if raw is None or math.isnan(raw) else float(raw)
                state = rule.evaluate(value)
                existing = stored.get((pk, naming.window_sk(window.start)))
                already = bool(
                    existing
                    and existing.get("notified") is True
                    and existing.get("state") == state.value
                    and existing.get("previous_state") == previous.value
                )
                evaluations.append(Evaluation(rule, resource, window, value, state, previous, already))
                previous = state
    return evaluations
