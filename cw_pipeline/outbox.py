"""The outbox: notifications owed to subscribers, stored before they are published.

An evaluation that owes a notification (`cw_pipeline.evaluation.Evaluation.owes`) is written together
with an outbox entry: an item under the one partition key ``outbox`` holding the whole message. A
publish is recorded on the evaluation (``notified_state``, ``notifications``, ``notification_id``)
and its entry deleted in one transaction. Entries left by a run that failed before recording them
are found with one Query of that partition (never a scan) and sent first by the next run.

Each notification has a deterministic id, a UUID derived from the rule, resource, window, state,
what it corrects and how many notifications that window had before it, so a message sent twice
(a crash between a publish and its record) carries the same id both times and subscribers can
de-duplicate on it; the count keeps a correction that flips a state back distinct from an earlier one.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from cw_pipeline import naming
from cw_pipeline.aggregation import expires_at
from cw_pipeline.evaluation import Evaluation, Kind

OUTBOX_PK = naming.OUTBOX_PARTITION
# Fixed forever: changing it would change every notification id.
NOTIFICATION_NAMESPACE = uuid.UUID("5b0f7c1e-2d8a-4a57-9c3e-6f1d2b8e4a90")
SOURCE = "cw-pipeline"
BURN_RATE_ATTRIBUTES = ("slo_id", "severity")


def notification_id(
    rule_id: str, resource: str, window_start: str, state: str, corrects: str | None, sequence: int
) -> str:
    """The id of the ``sequence``-th notification (from 0) of one window of one rule and resource."""
    name = "|".join((rule_id, resource, window_start, state, corrects or "-", str(sequence)))
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, name))


@dataclass(frozen=True)
class Notification:
    id: str
    kind: Kind
    evaluation_pk: str
    evaluation_sk: str
    state: str
    corrects: str | None
    sequence: int  # notifications recorded for its window before this one
    subject: str
    message: dict  # the JSON body
    env: str

    @property
    def outbox_sk(self) -> str:
        # One entry per window at most: a run sends every entry before it evaluates again.
        return f"{self.evaluation_pk}|{self.evaluation_sk}"

    @property
    def attributes(self) -> dict[str, str]:
        """SNS message attributes: subscribers filter on these without parsing the body."""
        return {
            "source": SOURCE,
            "rule_id": self.message["rule_id"],
            "state": self.state,
            "env": self.env,
            "kind": self.kind.value,
            "notification_id": self.id,
            # A burn-rate alert names its SLO and severity, so that subscribers can route pages and tickets.
            **{name: str(self.message[name]) for name in BURN_RATE_ATTRIBUTES if name in self.message},
        }

    def entry(self, run_id: str, expires: int) -> dict:
        """The outbox item (it expires with the evaluation it belongs to)."""
        return {
            naming.TABLE_PARTITION_KEY: OUTBOX_PK,
            naming.TABLE_SORT_KEY: self.outbox_sk,
            "notification_id": self.id,
            "kind": self.kind.value,
            "evaluation_pk": self.evaluation_pk,
            "evaluation_sk": self.evaluation_sk,
            "state": self.state,
            "sequence": self.sequence,
            "subject": self.subject,
            "message": json.dumps(self.message, sort_keys=True),
            "env": self.env,
            "run_id": run_id,
            naming.TABLE_TTL_ATTRIBUTE: expires,
            **({"corrects": self.corrects} if self.corrects else {}),
        }

    @classmethod
    def from_entry(cls, entry: dict) -> Notification:
        return cls(
            id=entry["notification_id"],
            kind=Kind(entry["kind"]),
            evaluation_pk=entry["evaluation_pk"],
            evaluation_sk=entry["evaluation_sk"],
            state=entry["state"],
            corrects=entry.get("corrects"),
            sequence=int(entry["sequence"]),
            subject=entry["subject"],
            message=json.loads(entry["message"]),
            env=entry["env"],
        )


def notification_for(evaluation: Evaluation, env: str) -> Notification | None:
    """The notification ``evaluation`` owes, with its id and body; None when it owes none."""
    kind = evaluation.owes
    if kind is None:
        return None
    corrects = evaluation.notified_state.value if kind is Kind.CORRECTION else None
    window_start = naming.window_sk(evaluation.window.start)
    identity = notification_id(
        evaluation.rule.rule_id, evaluation.resource, window_start, evaluation.state.value, corrects,
        evaluation.notifications,
    )  # fmt: skip
    message = {**evaluation.message(), "kind": kind.value, "notification_id": identity}
    if corrects is not None:
        message["corrects"] = corrects
    return Notification(
        id=identity,
        kind=kind,
        evaluation_pk=evaluation.pk,
        evaluation_sk=evaluation.sk,
        state=evaluation.state.value,
        corrects=corrects,
        sequence=evaluation.notifications,
        subject=evaluation.subject(env),
        message=message,
        env=env,
    )


def entry_expiry(evaluation: Evaluation, retention_days: int) -> int:
    return expires_at(evaluation.window, retention_days)
