"""What one aggregator invocation asks for: its event parsed and checked into the windows to run.

Pure: the windows come from the event's own time, never from the clock, so a retried event selects
the same windows and rewrites the same keys. ``now`` (the invocation's clock, read once by the
handler) is used only to refuse what cannot be run: windows that have not ended yet, and windows
older than CloudWatch keeps at 5-minute resolution. Every check is done on whole seconds since the
epoch before any window is built, so a range of any size (year 1 to 9999) is refused at once, and
no time, however far out, escapes as anything but `InvalidEvent`.

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
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from cw_pipeline.config import Settings
from cw_pipeline.windows import (
    WINDOW_SECONDS,
    Window,
    earliest_pullable_window,
    settled_windows,
    windows_between,
)

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
# The envelope of every EventBridge event; a scheduled-rule event carries nothing else.
SCHEDULED_RULE_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


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
    now = _utc(now, "the invocation time")
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"event is a {type(event).__name__}, not a JSON object; {EXPECTED_SHAPES}")

    if event.get("detail-type") == SCHEDULED_RULE_DETAIL_TYPE:
        if event.get("source") != SCHEDULED_RULE_SOURCE:
            raise InvalidEvent(
                f"scheduled-rule event has source {event.get('source')!r}, not {SCHEDULED_RULE_SOURCE!r}; "
                f"{EXPECTED_SHAPES}"
            )
        _only_keys(event, SCHEDULED_RULE_KEYS, "scheduled-rule event")
        kind, event_time = EventKind.SCHEDULED_RULE, _time(event, "time")
    elif SCHEDULER_KEY in event:
        _only_keys(event, {SCHEDULER_KEY}, "EventBridge Scheduler input")
        kind, event_time = EventKind.SCHEDULER, _time(event, SCHEDULER_KEY)
    elif BACKFILL_KEY in event:
        _only_keys(event, {BACKFILL_KEY}, "backfill event")
        start, end = _backfill_range(event[BACKFILL_KEY])
        first = _floor(_seconds(start))
        # Ceiling division on microseconds: every window overlapping [start, end), however far apart.
        count = -(-((end - EPOCH) // timedelta(microseconds=1) - first * 10**6) // (WINDOW_SECONDS * 10**6))
        _check(EventKind.BACKFILL, first, count, settings, now)
        return Invocation(EventKind.BACKFILL, tuple(windows_between(start, end)), None)
    else:
        keys = ", ".join(sorted(map(str, event))) or "none"
        raise InvalidEvent(f"unknown event shape (keys: {keys}); {EXPECTED_SHAPES}")

    # The arithmetic of `windows.settled_windows`, on seconds, so that it cannot overflow.
    newest_end = _floor(_seconds(event_time) - settings.settle_seconds)
    first = newest_end - (settings.lookback_windows + 1) * WINDOW_SECONDS
    _check(kind, first, settings.lookback_windows + 1, settings, now)
    windows = settled_windows(event_time, settings.settle_seconds, settings.lookback_windows)
    return Invocation(kind, tuple(windows), event_time)


def _backfill_range(body: object) -> tuple[datetime, datetime]:
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
    return start, end


def _check(kind: EventKind, first: int, count: int, settings: Settings, now: datetime) -> None:
    """Refuse ``count`` windows from ``first`` (epoch seconds) unless they may be run at ``now``."""
    last = first + (count - 1) * WINDOW_SECONDS
    if count > settings.max_backfill_windows:
        raise InvalidEvent(
            f"{kind.value} asks for {count} windows ({_key(first)} .. {_key(last)}), over the maximum of "
            f"{settings.max_backfill_windows} per run (CW_MAX_BACKFILL_WINDOWS); split it into smaller ranges"
        )
    if last + WINDOW_SECONDS > _seconds(now):
        raise InvalidEvent(
            f"{kind.value} asks for window {_key(last)}, which ends at {_iso(last + WINDOW_SECONDS)}, after the "
            f"invocation time {now.isoformat()}; only windows that have ended can be run"
        )
    earliest = earliest_pullable_window(now)
    if first < _seconds(earliest.start):
        raise InvalidEvent(
            f"{kind.value} asks for window {_key(first)}, older than CloudWatch's 63-day retention of "
            f"5-minute data allows; the earliest window that can be run now is {earliest.partition_key}"
        )


def _seconds(moment: datetime) -> int:
    return (moment - EPOCH) // SECOND


def _floor(seconds: int) -> int:
    return seconds - seconds % WINDOW_SECONDS


def _key(seconds: int) -> str:
    """The partition key of the window starting ``seconds`` after the epoch, or what it is if no date can say."""
    try:
        start = EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        return f"{seconds} s after 1970-01-01 (outside the years 1 to 9999)"
    # PARTITION_KEY_FORMAT by hand: strftime writes year 1 as "1", not "0001".
    return f"{start.year:04d}-{start:%m-%d-%H:%M}"


def _iso(seconds: int) -> str:
    try:
        return (EPOCH + timedelta(seconds=seconds)).isoformat()
    except OverflowError:
        return f"{seconds} s after 1970-01-01 (outside the years 1 to 9999)"


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
    return _utc(moment, f"{name}={raw!r}")


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} {moment!r} has no time zone; expected an aware datetime")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidEvent(
            f"{name} is outside the years 1 to 9999 once converted to UTC; expected a time such as "
            "'2026-11-20T12:05:00Z'"
        ) from None
