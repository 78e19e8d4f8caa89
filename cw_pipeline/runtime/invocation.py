"""What one aggregator invocation asks for: its event parsed and checked into the windows to run.

Pure: the windows come from the event's own time, never from the clock, so a retried event selects
the same windows and rewrites the same keys. ``now`` (the invocation's clock, read once by the
handler) is used only to refuse what cannot be run: windows that have not ended yet, and windows
older than CloudWatch keeps at 5-minute resolution.

Accepted shapes (see docs/lambda.md):

- an EventBridge scheduled-rule event: ``{"detail-type": "Scheduled Event", "source": "aws.events",
  "time": "2026-11-20T12:05:00Z", ...}``;
- an EventBridge Scheduler input: ``{"scheduled_time": "2026-11-20T12:05:00Z"}`` (the value of
  ``<aws.scheduler.scheduled-time>``);
- a manual backfill: ``{"backfill": {"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00Z"}}``,
  every window overlapping ``[start, end)``, run as one single-run backfill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cw_pipeline.config import Settings
from cw_pipeline.windows import Window, as_utc, earliest_pullable_window, settled_windows, windows_between

EXPECTED_SHAPES = (
    'expected one of: an EventBridge scheduled-rule event {"detail-type": "Scheduled Event", '
    '"source": "aws.events", "time": "2026-11-20T12:05:00Z", ...}; an EventBridge Scheduler input '
    '{"scheduled_time": "2026-11-20T12:05:00Z"}; a manual backfill '
    '{"backfill": {"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00Z"}}'
)
SCHEDULED_RULE_DETAIL_TYPE = "Scheduled Event"
SCHEDULED_RULE_SOURCE = "aws.events"
SCHEDULER_KEY = "scheduled_time"
BACKFILL_KEY = "backfill"


class InvalidEvent(ValueError):
    """The invocation's event cannot be run; the message says what is wrong and what is expected."""


class EventKind(StrEnum):
    SCHEDULED_RULE = "scheduled_rule"
    SCHEDULER = "scheduler"
    BACKFILL = "backfill"


@dataclass(frozen=True)
class Invocation:
    kind: EventKind
    windows: tuple[Window, ...]  # oldest first, contiguous, never empty
    event_time: datetime | None = None  # the scheduled time (scheduled shapes only)

    @property
    def partition_keys(self) -> list[str]:
        return [window.partition_key for window in self.windows]


def parse_event(event: object, settings: Settings, now: datetime) -> Invocation:
    """The windows ``event`` asks for, checked against ``settings`` and the invocation time ``now``.

    Raises `InvalidEvent` (a `ValueError`) before anything is written when the event has an unknown
    shape, an unparseable time, an empty or reversed range, windows that have not ended by ``now``,
    windows older than CloudWatch's 5-minute retention, or more than ``CW_MAX_BACKFILL_WINDOWS`` windows.
    """
    now = as_utc(now)
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"event is a {type(event).__name__}, not a JSON object; {EXPECTED_SHAPES}")

    if event.get("detail-type") == SCHEDULED_RULE_DETAIL_TYPE:
        if event.get("source") != SCHEDULED_RULE_SOURCE:
            raise InvalidEvent(
                f"scheduled-rule event has source {event.get('source')!r}, not {SCHEDULED_RULE_SOURCE!r}; "
                f"{EXPECTED_SHAPES}"
            )
        kind, event_time = EventKind.SCHEDULED_RULE, _time(event, "time")
    elif SCHEDULER_KEY in event:
        _only_keys(event, {SCHEDULER_KEY}, "EventBridge Scheduler input")
        kind, event_time = EventKind.SCHEDULER, _time(event, SCHEDULER_KEY)
    elif BACKFILL_KEY in event:
        _only_keys(event, {BACKFILL_KEY}, "backfill event")
        return _checked(EventKind.BACKFILL, _backfill_windows(event[BACKFILL_KEY]), None, settings, now)
    else:
        keys = ", ".join(sorted(map(str, event))) or "none"
        raise InvalidEvent(f"unknown event shape (keys: {keys}); {EXPECTED_SHAPES}")

    windows = settled_windows(event_time, settings.settle_seconds, settings.lookback_windows)
    return _checked(kind, windows, event_time, settings, now)


def _backfill_windows(body: object) -> list[Window]:
    if not isinstance(body, Mapping) or set(body) != {"start", "end"}:
        raise InvalidEvent(
            f'"backfill" must be an object with exactly "start" and "end", got {body!r}; {EXPECTED_SHAPES}'
        )
    start, end = _time(body, "start", "backfill.start"), _time(body, "end", "backfill.end")
    if end <= start:
        raise InvalidEvent(
            f"backfill.end {end.isoformat()} is not after backfill.start {start.isoformat()}; the range is "
            f"[start, end), so end must be later than start; {EXPECTED_SHAPES}"
        )
    return windows_between(start, end)


def _checked(
    kind: EventKind, windows: list[Window], event_time: datetime | None, settings: Settings, now: datetime
) -> Invocation:
    first, last = windows[0], windows[-1]
    span = f"{first.partition_key} .. {last.partition_key}"
    if len(windows) > settings.max_backfill_windows:
        raise InvalidEvent(
            f"{kind.value} asks for {len(windows)} windows ({span}), over the maximum of "
            f"{settings.max_backfill_windows} per run (CW_MAX_BACKFILL_WINDOWS); split it into smaller ranges"
        )
    if last.end > now:
        raise InvalidEvent(
            f"{kind.value} asks for window {last.partition_key}, which ends at {last.end.isoformat()}, after the "
            f"invocation time {now.isoformat()}; only windows that have ended can be run"
        )
    earliest = earliest_pullable_window(now)
    if first.start < earliest.start:
        raise InvalidEvent(
            f"{kind.value} asks for window {first.partition_key}, older than CloudWatch's 63-day retention of "
            f"5-minute data allows; the earliest window that can be run now is {earliest.partition_key}"
        )
    return Invocation(kind, tuple(windows), event_time)


def _only_keys(event: Mapping, allowed: set[str], what: str) -> None:
    extra = sorted(map(str, set(event) - allowed))
    if extra:
        raise InvalidEvent(f"{what} has unexpected keys {', '.join(extra)}; {EXPECTED_SHAPES}")


def _time(body: Mapping, key: str, name: str | None = None) -> datetime:
    name = name or key
    raw = body.get(key)
    if not isinstance(raw, str):
        raise InvalidEvent(f"{name} is {raw!r}, not an ISO-8601 time such as '2026-11-20T12:05:00Z'; {EXPECTED_SHAPES}")
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidEvent(
            f"{name}={raw!r} is not an ISO-8601 time; expected e.g. '2026-11-20T12:05:00Z'; {EXPECTED_SHAPES}"
        ) from None
    if moment.tzinfo is None:
        raise InvalidEvent(
            f"{name}={raw!r} has no time zone; expected UTC with 'Z' or an offset, e.g. '2026-11-20T12:05:00Z'"
        )
    return as_utc(moment)
