"""Window arithmetic: boundaries worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cw_pipeline.windows import Window, earliest_pullable_window, settled_windows, windows_between


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def keys(windows):
    return [w.partition_key for w in windows]


@pytest.mark.parametrize(
    ("event", "settle", "lookback", "expected"),
    [
        # On a mark: 12:05 - 120 s = 12:03 -> newest window that ended by then is 11:55-12:00.
        ("2026-11-25 12:05:00", 120, 1, ["2026-11-25-11:50", "2026-11-25-11:55"]),
        # Just after a mark: same answer.
        ("2026-11-25 12:05:01", 120, 1, ["2026-11-25-11:50", "2026-11-25-11:55"]),
        # Exactly settled: 12:07 - 120 s = 12:05, so 12:00-12:05 ended just in time.
        ("2026-11-25 12:07:00", 120, 0, ["2026-11-25-12:00"]),
        # Settle longer than a window: 12:05 - 420 s = 11:58 -> 11:50-11:55.
        ("2026-11-25 12:05:00", 420, 2, ["2026-11-25-11:40", "2026-11-25-11:45", "2026-11-25-11:50"]),
        # No settle: the window that ended at the event.
        ("2026-11-25 00:00:00", 0, 0, ["2026-11-24-23:55"]),
    ],
)
def test_settled_windows(event, settle, lookback, expected):
    assert keys(settled_windows(t(event), settle, lookback)) == expected


def test_windows_between_is_half_open_and_rounds_start_down():
    assert keys(windows_between(t("2026-11-25 12:03:00"), t("2026-11-25 12:15:00"))) == [
        "2026-11-25-12:00",
        "2026-11-25-12:05",
        "2026-11-25-12:10",
    ]
    assert windows_between(t("2026-11-25 12:00:00"), t("2026-11-25 12:00:00")) == []


def test_partition_key_round_trip_and_refusals():
    window = Window.from_partition_key("2026-11-25-12:05")
    assert window.start == t("2026-11-25 12:05:00") and window.end == t("2026-11-25 12:10:00")
    assert window.previous.partition_key == "2026-11-25-12:00"
    with pytest.raises(ValueError, match="expected '%Y-%m-%d-%H:%M'"):
        Window.from_partition_key("2026-11-25T12:05")
    with pytest.raises(ValueError, match="not on a 5-minute mark"):
        Window(t("2026-11-25 12:06:00"))


def test_earliest_pullable_window_stays_inside_63_days():
    now = t("2026-11-25 12:05:00")
    earliest = earliest_pullable_window(now)
    assert earliest.start == t("2026-09-24 00:00:00")  # 63 days before is 2026-09-23 12:05, next midnight
    assert now - earliest.start <= timedelta(days=63)
