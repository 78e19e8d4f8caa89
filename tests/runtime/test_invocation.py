"""Event parsing: which windows each shape selects, at the boundaries, and what is refused. No AWS, no Dagster run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cw_pipeline.config import Settings
from cw_pipeline.runtime.invocation import EventKind, InvalidEvent, parse_event

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def settings(settle: int = 120, lookback: int = 1, maximum: int = 4032) -> Settings:
    return Settings.from_env(
        {
            "CW_SETTLE_SECONDS": str(settle),
            "CW_LOOKBACK_WINDOWS": str(lookback),
            "CW_MAX_BACKFILL_WINDOWS": str(maximum),
        }
    )


def rule_event(time: str) -> dict:
    return {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "time": time, "detail": {}}


def keys(event: dict, **options) -> list[str]:
    return parse_event(event, settings(**options), NOW).partition_keys


@pytest.mark.parametrize(
    ("time", "settle", "lookback", "expected"),
    [
        # settle 0: the window ending exactly at the event counts as settled.
        ("2026-11-20T12:05:00Z", 0, 1, ["2026-11-20-11:55", "2026-11-20-12:00"]),
        # one second before the mark, the 12:00 window has not ended: one window earlier.
        ("2026-11-20T12:04:59Z", 0, 1, ["2026-11-20-11:50", "2026-11-20-11:55"]),
        # on a 5-minute mark with the default 120 s settle: 12:00-12:05 ended only 0 s ago.
        ("2026-11-20T12:05:00Z", 120, 1, ["2026-11-20-11:50", "2026-11-20-11:55"]),
        # just after the mark: nothing changes until the settle has passed.
        ("2026-11-20T12:05:01Z", 120, 1, ["2026-11-20-11:50", "2026-11-20-11:55"]),
        ("2026-11-20T12:06:59Z", 120, 1, ["2026-11-20-11:50", "2026-11-20-11:55"]),
        # exactly 120 s after 12:05 the 12:00 window is settled.
        ("2026-11-20T12:07:00Z", 120, 1, ["2026-11-20-11:55", "2026-11-20-12:00"]),
        # settle longer than a window (7 min): 12:05 - 7 min = 11:58, so the newest settled window is 11:50.
        ("2026-11-20T12:05:00Z", 420, 1, ["2026-11-20-11:45", "2026-11-20-11:50"]),
        ("2026-11-20T12:12:00Z", 420, 1, ["2026-11-20-11:55", "2026-11-20-12:00"]),
        # no lookback, and a longer one; across midnight.
        ("2026-11-20T12:07:00Z", 120, 0, ["2026-11-20-12:00"]),
        ("2026-11-20T00:03:00Z", 120, 2, ["2026-11-19-23:45", "2026-11-19-23:50", "2026-11-19-23:55"]),
        # a non-UTC offset is converted: 13:07+01:00 is 12:07Z.
        ("2026-11-20T13:07:00+01:00", 120, 1, ["2026-11-20-11:55", "2026-11-20-12:00"]),
    ],
)
def test_scheduled_window_choice(time, settle, lookback, expected):
    assert keys(rule_event(time), settle=settle, lookback=lookback) == expected
    # The Scheduler shape selects exactly the same windows for the same time.
    assert keys({"scheduled_time": time}, settle=settle, lookback=lookback) == expected


def test_same_event_same_windows_whatever_the_invocation_time():
    event = {"scheduled_time": "2026-11-20T12:12:00Z"}
    first = parse_event(event, settings(), NOW)
    retried = parse_event(event, settings(), datetime(2026, 11, 20, 13, 12, 44, tzinfo=UTC))
    assert first == retried
    assert first.kind is EventKind.SCHEDULER
    assert first.event_time == datetime(2026, 11, 20, 12, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-11-20T11:50:00Z", "2026-11-20T12:10:00Z", ["11:50", "11:55", "12:00", "12:05"]),
        # [start, end): a window starting at end is not included.
        ("2026-11-20T12:00:00Z", "2026-11-20T12:05:00Z", ["12:00"]),
        # unaligned: every window overlapping the range.
        ("2026-11-20T12:03:00Z", "2026-11-20T12:05:01Z", ["12:00", "12:05"]),
    ],
)
def test_backfill_windows(start, end, expected):
    invocation = parse_event({"backfill": {"start": start, "end": end}}, settings(), NOW)
    assert invocation.kind is EventKind.BACKFILL and invocation.event_time is None
    assert invocation.partition_keys == [f"2026-11-20-{hhmm}" for hhmm in expected]


def test_backfill_limits_are_inclusive():
    # NOW - 63 days = 2026-09-18T14:00Z; the partition set starts on the next whole day.
    oldest = parse_event(
        {"backfill": {"start": "2026-09-19T00:00:00Z", "end": "2026-09-19T00:05:00Z"}}, settings(), NOW
    )
    assert oldest.partition_keys == ["2026-09-19-00:00"]
    newest = parse_event(
        {"backfill": {"start": "2026-11-20T13:55:00Z", "end": "2026-11-20T14:00:00Z"}}, settings(), NOW
    )
    assert newest.partition_keys == ["2026-11-20-13:55"]
    four = parse_event(
        {"backfill": {"start": "2026-11-20T12:00:00Z", "end": "2026-11-20T12:20:00Z"}}, settings(maximum=4), NOW
    )
    assert len(four.windows) == 4


MALFORMED = {
    "not an object": ([], "not a JSON object"),
    "unknown shape": ({"hello": "world"}, "unknown event shape (keys: hello)"),
    "empty": ({}, "unknown event shape (keys: none)"),
    "rule without time": ({"detail-type": "Scheduled Event", "source": "aws.events"}, "time is None"),
    "rule from another source": (
        {"detail-type": "Scheduled Event", "source": "custom.app", "time": "2026-11-20T12:10:00Z"},
        "source 'custom.app'",
    ),
    "unparseable time": (rule_event("yesterday at noon"), "time='yesterday at noon' is not an ISO-8601 time"),
    "time without zone": ({"scheduled_time": "2026-11-20T12:10:00"}, "has no time zone"),
    "time not a string": ({"scheduled_time": 1790000000}, "scheduled_time is 1790000000, not an ISO-8601 time"),
    "scheduler with extra keys": (
        {"scheduled_time": "2026-11-20T12:10:00Z", "backfill": {}},
        "EventBridge Scheduler input has unexpected keys backfill",
    ),
    "backfill without end": ({"backfill": {"start": "2026-11-20T12:00:00Z"}}, 'exactly "start" and "end"'),
    "backfill end before start": (
        {"backfill": {"start": "2026-11-20T12:00:00Z", "end": "2026-11-20T11:00:00Z"}},
        "backfill.end 2026-11-20T11:00:00+00:00 is not after backfill.start",
    ),
    "backfill empty": (
        {"backfill": {"start": "2026-11-20T12:00:00Z", "end": "2026-11-20T12:00:00Z"}},
        "is not after backfill.start",
    ),
    "backfill beyond retention": (
        {"backfill": {"start": "2026-09-18T23:55:00Z", "end": "2026-09-19T00:05:00Z"}},
        "window 2026-09-18-23:55, older than CloudWatch's 63-day retention",
    ),
    "backfill over the maximum": (
        {"backfill": {"start": "2026-11-20T12:00:00Z", "end": "2026-11-20T12:25:00Z"}},
        "asks for 5 windows (2026-11-20-12:00 .. 2026-11-20-12:20), over the maximum of 4",
    ),
    "backfill into the future": (
        {"backfill": {"start": "2026-11-20T13:50:00Z", "end": "2026-11-20T14:00:01Z"}},
        "window 2026-11-20-14:00, which ends at 2026-11-20T14:05:00+00:00, after the invocation time",
    ),
    "scheduled in the future": ({"scheduled_time": "2026-11-20T14:12:00Z"}, "window 2026-11-20-14:05"),
    # Mixed shapes: a scheduled-rule event is the EventBridge envelope and nothing else.
    "scheduled rule with a stray backfill": (
        {**rule_event("2026-11-20T12:10:00Z"), "backfill": {"start": "2026-11-20T00:00:00Z", "end": "x"}},
        "scheduled-rule event has unexpected keys backfill",
    ),
    "scheduled rule with a scheduler time": (
        {**rule_event("2026-11-20T12:10:00Z"), "scheduled_time": "2026-11-20T12:10:00Z"},
        "scheduled-rule event has unexpected keys scheduled_time",
    ),
    # Ranges of any size are counted, not listed: 0001-01-01 .. 2026-11-20 is 213,102,432 windows
    # (739,939 days from 0001-01-01 to 2026-11-20, times 288 windows a day).
    "backfill from year 1": (
        {"backfill": {"start": "0001-01-01T00:00:00Z", "end": "2026-11-20T00:00:00Z"}},
        "asks for 213102432 windows (0001-01-01-00:00 .. 2026-11-19-23:55), over the maximum of 4",
    ),
    "backfill to year 9999": (
        {"backfill": {"start": "2026-11-20T12:00:00Z", "end": "9999-12-31T23:59:59Z"}},
        "windows (2026-11-20-12:00 .. 9999-12-31-23:55), over the maximum of 4",
    ),
    "backfill of the last window of year 9999": (
        {"backfill": {"start": "9999-12-31T23:55:00Z", "end": "9999-12-31T23:59:59Z"}},
        "window 9999-12-31-23:55, which ends at 253402300800 s after 1970-01-01 (outside the years 1 to 9999)",
    ),
    "start before year 1 in UTC": (
        {"backfill": {"start": "0001-01-01T00:00:00+14:00", "end": "2026-11-20T00:00:00Z"}},
        "backfill.start='0001-01-01T00:00:00+14:00' is outside the years 1 to 9999 once converted to UTC",
    ),
    "end after year 9999 in UTC": (
        {"backfill": {"start": "2026-11-20T00:00:00Z", "end": "9999-12-31T23:59:59-14:00"}},
        "backfill.end='9999-12-31T23:59:59-14:00' is outside the years 1 to 9999 once converted to UTC",
    ),
    "scheduled in year 1": ({"scheduled_time": "0001-01-01T00:00:00Z"}, "older than CloudWatch's 63-day retention"),
    "scheduled in year 9999": ({"scheduled_time": "9999-12-31T23:59:59Z"}, "window 9999-12-31-23:50, which ends at"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_events_are_refused_with_what_and_what_is_expected(name):
    event, says = MALFORMED[name]
    with pytest.raises(InvalidEvent) as raised:
        parse_event(event, settings(maximum=4), NOW)
    assert isinstance(raised.value, ValueError)
    assert says in str(raised.value)
    if "shape" in says or "ISO-8601" in says or "unexpected keys" in says or '"start"' in says:
        assert "expected one of" in str(raised.value) and '"scheduled_time"' in str(raised.value)
