"""Alert delivery through an outbox: evaluations are stored first, then what they owe is published.

The guarantee (README, "Delivery"; docs/reliability.md):

- every notification owed is sent at least once: it is stored in the outbox, in the same transaction
  as its evaluation, before it is published, and stays there until its publish is recorded; every run
  sends what earlier runs left in the outbox before it evaluates anything;
- it is sent at most once, except when a publish that SNS accepted cannot be recorded (the process
  is killed or times out in between, SNS's answer is lost, or DynamoDB refuses the record after its
  retries): then that one message is sent again by the next run, with the same ``notification_id``;
- nothing is silently not sent: a failed publish or record fails the run, and the entry stays.

The caller holds the run lease (`cw_pipeline.lease`), so no other run reads or writes the same
evaluations meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cw_pipeline.evaluation import Evaluation, Kind
from cw_pipeline.outbox import Notification, entry_expiry, notification_for


class Notifier(Protocol):
    env: str

    @property
    def enabled(self) -> bool: ...

    def publish(self, notification: Notification) -> str | None: ...


class EvaluationStore(Protocol):
    retention_days: int

    def write(self, items: Sequence[dict]) -> int: ...

    def write_owed(self, evaluations: Sequence[dict], entries: Sequence[dict]) -> int: ...

    def owed_notifications(self) -> list[Notification]: ...

    def record_sent(self, notification: Notification) -> bool: ...


@dataclass(frozen=True)
class Delivery:
    items: list[dict]  # every evaluation as stored
    sent: int  # notifications published by this run, earlier runs' leftovers included
    write_calls: int  # BatchWriteItem calls
    corrections: int = 0  # of ``sent``, corrections of an earlier notification
    resent: int = 0  # of ``sent``, notifications left in the outbox by earlier runs
    transactions: int = 0  # TransactWriteItems calls (evaluations with their outbox entries)


def send_owed(notifier: Notifier, store: EvaluationStore, log: logging.Logger | None = None) -> list[Notification]:
    """Publish what earlier runs left in the outbox (a run does this before evaluating anything)."""
    if not notifier.enabled:
        return []  # kept until notifications are switched on again
    owed = store.owed_notifications()
    if owed and log is not None:
        log.warning(f"{len(owed)} notification(s) left unsent by earlier runs: sending them first")
    return _publish(owed, notifier, store, log)


def deliver(
    evaluations: Sequence[Evaluation],
    notifier: Notifier,
    store: EvaluationStore,
    run_id: str,
    now: datetime,
    log: logging.Logger | None = None,
    resent: Sequence[Notification] = (),
) -> Delivery:
    """Store every evaluation (those that owe a notification with their outbox entries), then publish
    and record each notification owed. ``resent``: what `send_owed` sent earlier in this run."""
    owed: list[tuple[Evaluation, Notification]] = []
    if notifier.enabled:
        owed = [(e, n) for e in evaluations if (n := notification_for(e, notifier.env)) is not None]
    owing = {(n.evaluation_pk, n.evaluation_sk) for _, n in owed}
    items = [evaluation.item(run_id, now, store.retention_days) for evaluation in evaluations]
    by_key = {(item["pk"], item["sk"]): item for item in items}
    write_calls = store.write([item for key, item in by_key.items() if key not in owing])
    transactions = store.write_owed(
        [by_key[(n.evaluation_pk, n.evaluation_sk)] for _, n in owed],
        [n.entry(run_id, entry_expiry(e, store.retention_days)) for e, n in owed],
    )
    sent = _publish([n for _, n in owed], notifier, store, log)
    everything = [*resent, *sent]
    return Delivery(
        items=items,
        sent=len(everything),
        write_calls=write_calls,
        corrections=sum(n.kind is Kind.CORRECTION for n in everything),
        resent=len(resent),
        transactions=transactions,
    )


def _publish(
    notifications: Sequence[Notification], notifier: Notifier, store: EvaluationStore, log: logging.Logger | None
) -> list[Notification]:
    """Publish each notification, then record it before the next; the first failure fails the run."""
    for notification in notifications:
        notifier.publish(notification)
        recorded = store.record_sent(notification)
        if log is not None:
            log.info(f"notified ({notification.kind.value}, id {notification.id}): {notification.subject}")
            if not recorded:
                log.warning(
                    f"notification {notification.id} was published, but its evaluation "
                    f"{notification.evaluation_pk} {notification.evaluation_sk} is no longer in state "
                    f"{notification.state}: the next evaluation of that window decides what else is owed"
                )
    return list(notifications)
