"""5-minute UTC windows: the unit of every pull, aggregate, evaluation and Dagster partition.

Pure functions of the times they are given; no function here reads the clock.
A window is half-open, ``[start, end)``, and starts on a 5-minute mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WINDOW = timedelta(minutes=5)
WINDOW_SECONDS = int(WINDOW.total_seconds())
CRON_SCHEDULE = "*/5 * * * *"
# Dagster's own minute-level partition key format.
PARTITION_KEY_FORMAT = "%Y-%m-%d-%H:%M"
# CloudWatch keeps 5-minute data for 63 days; older windows cannot be re-pulled at this resolution.
CLOUDWATCH_5MIN_RETENTION = timedelta(days=63)


@dataclass(frozen=True, order=True)
class Window:
    start: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError(f"window start {self.start!r} has no time zone; expected UTC")
        if self.start != floor_to_window(self.start):
            raise ValueError(f"window start {self.start.isoformat()} is not on a 5-minute mark")

    @property
    def end(self) -> datetime:
        return self.start + WINDOW

    @property
    def partition_key(self) -> str:
        return self.start.astimezone(UTC).strftime(PARTITION_KEY_FORMAT)

    @property
    def previous(self) -> Window:
        return Window(self.start - WINDOW)

    @classmethod
    def from_partition_key(cls, key: str) -> Window:
        try:
            start = datetime.strptime(key, PARTITION_KEY_FORMAT).replace(tzinfo=UTC)
        except ValueError as error:
            raise ValueError(
                f"partition key {key!r} is not a window: expected {PARTITION_KEY_FORMAT!r}, e.g. '2026-11-25-12:05'"
            ) from error
        return cls(start)


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"time {moment!r} has no time zone; expected an aware datetime")
    return moment.astimezone(UTC)


def floor_to_window(moment: datetime) -> datetime:
    moment = as_utc(moment)
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % WINDOW_SECONDS, tz=UTC)


def windows_between(start: datetime, end: datetime) -> list[Window]:
    """Every window that starts in ``[start, end)``, with ``start`` rounded down to a window."""
    first = floor_to_window(start)
    end = as_utc(end)
    count = max(0, -(-int((end - first).total_seconds()) // WINDOW_SECONDS))
    return [Window(first + i * WINDOW) for i in range(count)]


def settled_windows(event_time: datetime, settle_seconds: int, lookback_windows: int) -> list[Window]:
    """The windows a scheduled run at ``event_time`` processes, oldest first.

    The newest window that ended at least ``settle_seconds`` before ``event_time`` (AWS metrics
    arrive late), plus the ``lookback_windows`` before it, re-read because late datapoints may
    have changed them. A function of its arguments only, so a retried event selects the same windows.
    """
    if settle_seconds < 0 or lookback_windows < 0:
        raise ValueError("settle_seconds and lookback_windows must be >= 0")
    newest_end = floor_to_window(as_utc(event_time) - timedelta(seconds=settle_seconds))
    newest = Window(newest_end - WINDOW)
    return [Window(newest.start - i * WINDOW) for i in range(lookback_windows, -1, -1)]


def earliest_pullable_window(now: datetime) -> Window:
    """The oldest window CloudWatch still holds at 5-minute resolution, rounded up to a whole day
    so that the Dagster partition set moves once a day rather than every five minutes."""
    oldest = as_utc(now) - CLOUDWATCH_5MIN_RETENTION
    day = oldest.replace(hour=0, minute=0, second=0, microsecond=0)
    return Window(day if day == oldest else day + timedelta(days=1))
