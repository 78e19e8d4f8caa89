"""Burn-rate evaluations of the SLOs per severity, and which of their transitions notify.

The burn-rate counterpart of `cw_pipeline.evaluation`, with the same transition and correction rules
(`evaluation.NotificationTrail`) and the same interface towards the outbox (`cw_pipeline.alerting`):
``rule.rule_id``, ``resource``, ``window``, ``pk``, ``sk``, ``message()``, ``subject(env)`` and
``item(run_id, evaluated_at, retention_days)``, like `Evaluation`.

What is evaluated is an SLO at one severity (a `BurnRateRule`): its state in a window is the one
`burn_rate.severity_states` decides from the policy rows of that severity. A window with no earlier
evaluation comes from INSUFFICIENT_DATA; a transition into ALARM, and ALARM -> OK, notifies once, and a
notified state that late data changes is corrected.
Pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from cw_pipeline import naming
from cw_pipeline.aggregation import expires_at
from cw_pipeline.burn_rate import evaluate_burn_rates, severity_states
from cw_pipeline.catalog import Service
from cw_pipeline.evaluation import NotificationTrail, WindowKeys, notified_trail
from cw_pipeline.slos import POLICIES, SLO, SLOS, BurnRatePolicy, Severity, window_label
from cw_pipeline.thresholds import State
from cw_pipeline.windows import Window

KIND = "burn_rate"


@dataclass(frozen=True)
class BurnRateRule:
    """An SLO at one severity: what a burn-rate evaluation is an evaluation of."""

    slo: SLO
    severity: Severity

    @property
    def rule_id(self) -> str:
        """``{slo_id}_{severity}``, e.g. ``api_availability_page``: the SNS ``rule_id`` attribute."""
        return f"{self.slo.slo_id}_{self.severity.value}"

    @property
    def service(self) -> Service:
        return self.slo.service


def burn_rate_rules(slos: Sequence[SLO] = SLOS, policies: Sequence[BurnRatePolicy] = POLICIES) -> list[BurnRateRule]:
    """Every (SLO, severity) that has at least one policy row, in table order."""
    severities = list(dict.fromkeys(p.severity for p in policies))
    return [BurnRateRule(slo, severity) for slo in slos for severity in severities]


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


@dataclass(frozen=True)
class BurnRateEvaluation(NotificationTrail):
    rule: BurnRateRule
    resource: str
    window: Window
    policy: BurnRatePolicy  # the row that decided the state (the first in ALARM, else the first with data)
    long_bad: float
    long_total: float
    long_burn_rate: float  # NaN when the long window has no events
    short_burn_rate: float  # NaN when the short window has no events
    state: State
    previous_state: State
    notified_state: State | None = None
    notifications: int = 0
    notification_id: str | None = None

    @property
    def value(self) -> float | None:
        """The deciding row's pair burn rate: the lower of its two, an undefined short one counting as 0.

        Like a threshold rule's value, it is above the threshold exactly when the row fires; None when
        the long window has no events (INSUFFICIENT_DATA)."""
        long, short = _number(self.long_burn_rate), _number(self.short_burn_rate)
        if long is None:
            return None
        return min(long, short or 0.0)

    @property
    def threshold(self) -> float:
        return self.policy.burn_rate

    @property
    def pk(self) -> str:
        return naming.slo_evaluation_pk(self.rule.slo.slo_id, self.rule.severity.value, self.resource)

    @property
    def sk(self) -> str:
        return naming.window_sk(self.window.start)

    def message(self) -> dict:
        """The threshold notification's fields (README, "Notifications") plus what makes it a burn rate."""
        return {
            "rule_id": self.rule.rule_id,
            "slo_id": self.rule.slo.slo_id,
            "severity": self.rule.severity.value,
            "policy": self.policy.name,
            "service": self.rule.service.value,
            "resource": self.resource,
            "state": self.state.value,
            "previous_state": self.previous_state.value,
            "window_start": naming.window_sk(self.window.start),
            "window_end": naming.window_sk(self.window.end),
            "value": self.value,
            "threshold": self.threshold,
            "long_window": window_label(self.policy.long_window),
            "short_window": window_label(self.policy.short_window),
            "long_burn_rate": _number(self.long_burn_rate),
            "short_burn_rate": _number(self.short_burn_rate),
            "objective": self.rule.slo.objective,
        }

    def subject(self, env: str) -> str:
        """Fits SNS's 100 characters: what and where first; the windows and numbers are in the body."""
        shown = "no data" if self.value is None else f"{self.value:.3g}"
        subject = (
            f"[cw-analytics {env}] {self.verb()} SLO {self.rule.slo.slo_id} {self.rule.severity.value}: "
            f"burn {shown} vs {self.threshold:g} on {self.resource}"
        )
        return subject[:100]

    def item(self, run_id: str, evaluated_at: datetime, retention_days: int) -> dict:
        item = {
            "pk": self.pk,
            "sk": self.sk,
            "kind": KIND,
            "rule_id": self.rule.rule_id,
            "slo_id": self.rule.slo.slo_id,
            "severity": self.rule.severity.value,
            "policy": self.policy.name,
            "service": self.rule.service.value,
            "resource": self.resource,
            "objective": self.rule.slo.objective,
            "threshold": self.threshold,
            "long_window": window_label(self.policy.long_window),
            "short_window": window_label(self.policy.short_window),
            "state": self.state.value,
            "previous_state": self.previous_state.value,
            "window_start": naming.window_sk(self.window.start),
            "window_end": naming.window_sk(self.window.end),
            "evaluated_at": naming.window_sk(evaluated_at.replace(microsecond=0)),
            "run_id": run_id,
            "expires_at": expires_at(self.window, retention_days),
        }
        numbers = {
            "value": self.value,
            "long_burn_rate": _number(self.long_burn_rate),
            "short_burn_rate": _number(self.short_burn_rate),
            "long_bad": _number(self.long_bad),
            "long_total": _number(self.long_total),
        }
        item.update({name: value for name, value in numbers.items() if value is not None})
        return {**item, **self.trail_attributes()}


def burn_rate_keys(
    history: pd.DataFrame,
    windows: Sequence[Window],
    slos: Sequence[SLO] = SLOS,
    policies: Sequence[BurnRatePolicy] = POLICIES,
) -> list[tuple[str, str]]:
    """The ``(pk, sk)`` of every stored burn-rate evaluation `evaluate_slos` needs: per rule and resource,
    the window before the first (its previous state) and every evaluated window (what was notified)."""
    sort_keys = [naming.window_sk(windows[0].previous.start), *(naming.window_sk(w.start) for w in windows)]
    # One pass over the history (hundreds of thousands of rows), not one filter per rule.
    resources = {
        service: sorted(of_service)
        for service, of_service in history.groupby("service", sort=False)["resource"].unique().items()
    }
    keys = []
    for rule in burn_rate_rules(slos, policies):
        for resource in resources.get(rule.service.value, ()):
            pk = naming.slo_evaluation_pk(rule.slo.slo_id, rule.severity.value, resource)
            keys.extend((pk, sk) for sk in sort_keys)
    return keys


def evaluate_slos(
    history: pd.DataFrame,
    windows: Sequence[Window],
    stored: Mapping[tuple[str, str], Mapping],
    slos: Sequence[SLO] = SLOS,
    policies: Sequence[BurnRatePolicy] = POLICIES,
) -> list[BurnRateEvaluation]:
    """Every SLO at every severity for every resource and window of ``windows``, oldest window first.

    ``history`` holds the aggregates of ``windows`` and of the long windows before them (from
    `burn_rate.history_start`); ``stored`` maps ``(pk, sk)`` to burn-rate items already in the table
    (see `burn_rate_keys`).
    """
    decided = severity_states(evaluate_burn_rates(history, windows, slos=slos, policies=policies))
    by_name = {p.name: p for p in policies}
    # The decided rows are read once, column by column, and grouped in Python (like `evaluation.evaluate`).
    ordered = decided.sort_values("window_start", kind="stable")
    column = {name: ordered[name].tolist() for name in _EVALUATION_FIELDS}
    rows: dict[tuple[str, str], dict[str, list[int]]] = {}
    for index, (slo_id, severity, resource) in enumerate(
        zip(column["slo_id"], column["severity"], column["resource"], strict=True)
    ):
        rows.setdefault((slo_id, severity), {}).setdefault(str(resource), []).append(index)
    starts = WindowKeys(column["window_start"])
    evaluations: list[BurnRateEvaluation] = []
    for rule in burn_rate_rules(slos, policies):
        for resource, indices in sorted(rows.get((rule.slo.slo_id, rule.severity.value), {}).items()):
            pk = naming.slo_evaluation_pk(rule.slo.slo_id, rule.severity.value, resource)
            before = stored.get((pk, starts.previous_sk(indices[0])))
            previous = State(before["state"]) if before else State.INSUFFICIENT_DATA
            for index in indices:
                state = State(column["state"][index])
                notified_state, notifications, notification_id = notified_trail(stored.get((pk, starts.sk(index))))
                evaluations.append(
                    BurnRateEvaluation(
                        rule=rule,
                        resource=resource,
                        window=starts.window(index),
                        policy=by_name[column["policy"][index]],
                        long_bad=float(column["long_bad"][index]),
                        long_total=float(column["long_total"][index]),
                        long_burn_rate=float(column["long_burn_rate"][index]),
                        short_burn_rate=float(column["short_burn_rate"][index]),
                        state=state,
                        previous_state=previous,
                        notified_state=notified_state,
                        notifications=notifications,
                        notification_id=notification_id,
                    )
                )
                previous = state
    return evaluations


_EVALUATION_FIELDS = (
    "slo_id", "severity", "resource", "window_start", "policy", "state",
    "long_bad", "long_total", "long_burn_rate", "short_burn_rate",
)  # fmt: skip
