"""Hostile invocation events (issue 10, failure 6), through the real handler against the emulator.

A start in year 1 used to build one window object per 5 minutes of the range (MemoryError at 1.9 GB);
times past year 9999 once in UTC escaped as OverflowError; a scheduled-rule event with a stray
``backfill`` key was run; ``handler(event, None)`` crashed inside Powertools. Each is now refused
with `InvalidEvent` before any AWS call, and the last one works.
"""

from __future__ import annotations

import tracemalloc

import pytest
from reliability_support import BACKFILL_ALL, EXPECTED_NOTIFICATIONS, NOW, sent

from cw_pipeline.runtime import handler as lambda_handler
from cw_pipeline.runtime.invocation import InvalidEvent

HOSTILE = {  # name: (event, what the refusal says)
    # 739,939 days from 0001-01-01 to 2026-11-20, 288 windows a day, plus 144 for 00:00 .. 12:00.
    "a backfill from year 1": (
        {"backfill": {"start": "0001-01-01T00:00:00Z", "end": "2026-11-20T12:00:00Z"}},
        "asks for 213102576 windows (0001-01-01-00:00 .. 2026-11-20-11:55), over the maximum of 4032",
    ),
    "a backfill to year 9999": (
        {"backfill": {"start": "2026-11-20T12:00:00Z", "end": "9999-12-31T23:59:59Z"}},
        "windows (2026-11-20-12:00 .. 9999-12-31-23:55), over the maximum of 4032",
    ),
    "a start before year 1 in UTC": (
        {"backfill": {"start": "0001-01-01T00:00:00+14:00", "end": "2026-11-20T12:00:00Z"}},
        "backfill.start='0001-01-01T00:00:00+14:00' is outside the years 1 to 9999 once converted to UTC",
    ),
    "an end after year 9999 in UTC": (
        {"backfill": {"start": "2026-11-20T12:00:00Z", "end": "9999-12-31T23:59:59-14:00"}},
        "backfill.end='9999-12-31T23:59:59-14:00' is outside the years 1 to 9999 once converted to UTC",
    ),
    "a scheduled time in year 9999": (
        {"scheduled_time": "9999-12-31T23:59:59Z"},
        "asks for window 9999-12-31-23:50, which ends at 9999-12-31T23:55:00+00:00, after the invocation time",
    ),
    "a scheduled-rule event with a stray backfill": (
        {"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-20T12:10:00Z", **BACKFILL_ALL},
        "scheduled-rule event has unexpected keys backfill",
    ),
}


@pytest.fixture
def fixed_invocation_time(world, monkeypatch):
    monkeypatch.setattr(lambda_handler, "now_utc", lambda: NOW)
    monkeypatch.setenv("CW_API_NAMES", "orders-api")
    monkeypatch.setenv("CW_FUNCTION_NAMES", "orders-handler")
    monkeypatch.setenv("CW_DB_INSTANCE_IDS", "orders-db")
    return world


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_event_is_refused_before_any_work_in_bounded_memory(fixed_invocation_time, name):
    world = fixed_invocation_time
    tracemalloc.start()
    try:
        event, says = HOSTILE[name]
        with pytest.raises(InvalidEvent) as refused:
            lambda_handler.handler(event, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert says in str(refused.value)
    assert peak < 5_000_000  # bytes: a year-1 range is counted, never listed
    assert world.items() == {} and world.notifications() == []


def test_the_handler_runs_with_no_lambda_context(fixed_invocation_time):
    world = fixed_invocation_time
    summary = lambda_handler.handler(BACKFILL_ALL, None)
    assert summary["status"] == "succeeded" and summary["notifications_sent"] == len(EXPECTED_NOTIFICATIONS)
    assert sent(world.notifications()) == EXPECTED_NOTIFICATIONS
