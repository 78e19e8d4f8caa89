"""What the demo runs: which hours of workload, where the incident falls, and the two Lambda events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cw_local.workload import Incident
from cw_pipeline.windows import WINDOW, Window, floor_to_window, windows_between

DEFAULT_HOURS = 3.0
DEFAULT_SEED = 7
DEFAULT_INCIDENT_MINUTES = 20


@dataclass(frozen=True)
class Plan:
    start: datetime
    end: datetime  # the end of the newest generated window: the newest settled window at ``now``
    now: datetime
    incident: Incident

    @property
    def windows(self) -> list[Window]:
        return windows_between(self.start, self.end)

    def backfill_event(self) -> dict:
        """Every generated window but the newest, in one manual backfill."""
        return {"backfill": {"start": iso(self.start), "end": iso(self.end - WINDOW)}}

    def scheduled_event(self) -> dict:
        """The EventBridge Scheduler input at ``now``: its newest settled window is the newest generated one."""
        return {"scheduled_time": iso(self.now)}


def make_plan(now: datetime, hours: float, incident_minutes: int, settle_seconds: int) -> Plan:
    """The last ``hours`` of windows that have settled at ``now``, an incident in the middle on a window mark."""
    end = floor_to_window(now - timedelta(seconds=settle_seconds))
    start = floor_to_window(end - timedelta(hours=hours))
    if end - start < 4 * WINDOW:
        raise SystemExit("--hours must cover at least 20 minutes")
    middle = floor_to_window(start + (end - start) / 2 - timedelta(minutes=incident_minutes) / 2)
    return Plan(start, end, now, Incident(middle, timedelta(minutes=incident_minutes)))


def describe_event(event: dict) -> str:
    if "backfill" in event:
        return f"backfill {event['backfill']['start']} .. {event['backfill']['end']}"
    return f"scheduled_time {event['scheduled_time']}"


def iso(moment: datetime) -> str:
    """A moment as the events and the report write it: UTC, ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
