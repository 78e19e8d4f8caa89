"""Alert delivery: evaluations become stored items, and their transitions become SNS notifications.

The guarantee (README, "Delivery"): every notifiable transition is published before its evaluation is
stored with ``notified = true``; a transition already stored as notified is never published again. When
a publish fails, the evaluations already published in this run are recorded before the error is raised,
so the retry sends only the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cw_pipeline.evaluation import Evaluation


class Notifier(Protocol):
    env: str

    @property
    def enabled(self) -> bool: ...

    def publish(self, subject: str, message: dict, rule_id: str, state: str) -> str | None: ...


class EvaluationStore(Protocol):
    retention_days: int

    def write(self, items: Sequence[dict]) -> int: ...


@dataclass(frozen=True)
class Delivery:
    items: list[dict]  # every evaluation as stored
    sent: int  # notifications published by this run
    write_calls: int  # BatchWriteItem calls


def deliver(
    evaluations: Sequence[Evaluation],
    notifier: Notifier,
    store: EvaluationStore,
    run_id: str,
    now: datetime,
    log: logging.Logger | None = None,
) -> Delivery:
    """Publish every transition that needs it, then store every evaluation with its ``notified`` flag."""
    items, newly_notified = [], []
    try:
        for evaluation in evaluations:
            notified = evaluation.already_notified
            if evaluation.needs_notification and notifier.enabled:
                subject = evaluation.subject(notifier.env)
                notifier.publish(subject, evaluation.message(), evaluation.rule.rule_id, evaluation.state.value)
                notified = True
                if log is not None:
                    log.info(f"notified: {subject}")
            item = evaluation.item(notified, run_id, now, store.retention_days)
            items.append(item)
            if notified and not evaluation.already_notified:
                newly_notified.append(item)
    except Exception:
        # Record what was already sent before failing the run, so that the retry does not e-mail it twice.
        store.write(newly_notified)
        raise
    return Delivery(items, len(newly_notified), store.write(items))
