"""The baseline's notification trail, shared by its threshold and burn-rate evaluations.

The pipeline's rules (`cw_pipeline.evaluation.NotificationTrail`, README "Notifications"), written out
plainly: a window owes a transition into ALARM or ALARM -> OK while nothing was notified for it, and a
correction when the state notified for it has changed since. A publish is recorded on the item as
``notified_state``, ``notifications`` and ``notification_id``; ``notified`` says whether the current state
has been notified. No outbox: the baseline publishes, then writes.
"""

from __future__ import annotations

import json
import os
import uuid

# The pipeline's notification ids are uuid5 in this namespace (docs/reliability.md, "Deterministic ids"); the
# baseline derives the same ids so that the items it stores after a publish are the pipeline's.
NOTIFICATION_NAMESPACE = uuid.UUID("5b0f7c1e-2d8a-4a57-9c3e-6f1d2b8e4a90")
TRAIL = ("notified_state", "notifications", "notification_id")


def notification_id(rule_id: str, resource: str, window_start: str, state: str, corrects, sequence: int) -> str:
    """The id of a window's ``sequence``-th notification (from 0): the same inputs give the same id."""
    name = "|".join((rule_id, resource, window_start, state, corrects or "-", str(sequence)))
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, name))


def owed(state: str, previous: str, notified_state: str | None) -> tuple[str, str | None] | None:
    """(kind, the state it corrects) of the notification a window owes, or None."""
    if notified_state is not None:
        return ("correction", notified_state) if state != notified_state else None
    if state != previous and (state == "ALARM" or (state, previous) == ("OK", "ALARM")):
        return "transition", None
    return None


def notify(sns, item: dict, message: dict, what: str, stored: dict) -> tuple[dict, int]:
    """Publish what the evaluation ``item`` owes, given the ``stored`` item of its window (or {}); its trail
    attributes and the number of notifications sent (0 or 1). ``what`` ends the subject, e.g. "rule on name"."""
    trail = {name: stored[name] for name in TRAIL if name in stored}
    notification = owed(item["state"], item["previous_state"], trail.get("notified_state"))
    topic, sent = os.environ.get("CW_ALERTS_TOPIC_ARN"), 0
    if notification and topic:
        kind, corrects = notification
        sequence = int(trail.get("notifications", 0))
        identity = notification_id(item["rule_id"], item["resource"], item["window_start"], item["state"],
                                   corrects, sequence)  # fmt: skip
        body = {**message, "kind": kind, "notification_id": identity, **({"corrects": corrects} if corrects else {})}
        verb = f"CORRECTION {corrects}->{item['state']}" if corrects else item["state"]
        sns.publish(TopicArn=topic, Message=json.dumps(body), Subject=f"[cw-analytics] {verb} {what}"[:100])
        trail = {"notified_state": item["state"], "notifications": sequence + 1, "notification_id": identity}
        sent = 1
    return {"notified": trail.get("notified_state") == item["state"], **trail}, sent
