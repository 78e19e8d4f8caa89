"""The fault-free outcome every fault case is compared with, checked by hand first."""

from __future__ import annotations

from reliability_support import EXPECTED_NOTIFICATIONS, ITEMS, W1


def test_the_fault_free_run_stores_every_item_and_sends_each_transition_once(world, baseline):
    assert baseline["sent"] == EXPECTED_NOTIFICATIONS
    assert len(set(baseline["ids"])) == len(EXPECTED_NOTIFICATIONS)
    items = baseline["items"]
    assert len(items) == ITEMS  # no lease, no outbox entry left behind
    rate = items[("alert#api_error_rate#orders-api", "2026-11-20T12:00:00Z")]
    assert (rate["state"], rate["value"], rate["notified"], rate["notified_state"]) == ("ALARM", 10.0, True, "ALARM")
    assert rate["notifications"] == 1 and rate["notification_id"] in baseline["ids"]
    api = items[("apigateway#orders-api", "2026-11-20T12:00:00Z")]
    assert (api["request_count"], api["errors_4xx"], api["errors_5xx"]) == (30, 1, 2)
    assert W1.partition_key == "2026-11-20-12:00"
