"""The burn-rate asset on moto: stored evaluations, notifications sent once, bulk history reads, asset checks.

The scripted outage and its hand-computed burn rates are in slo_workload.py.
"""

from __future__ import annotations

import uuid

import pytest
from pipeline_support import run_windows
from slo_workload import API, WINDOWS, publish_outage, sk

PAGE_PK = f"slo#api_availability#page#{API}"
TICKET_PK = f"slo#api_availability#ticket#{API}"
PAGE_STATES = ["OK"] * 6 + ["ALARM"] * 7 + ["OK"]


def burn_rate_notifications(aws) -> list[dict]:
    return [n for n in aws.notifications() if "slo_id" in n["message"]]  # threshold rules have no SLO


def stored_states(aws, pk: str) -> list[str]:
    return [aws.item(pk, sk(i))["state"] for i in range(len(WINDOWS))]


def test_the_outage_pages_then_recovers_and_tickets(aws, pipeline):
    publish_outage(aws)
    run_windows(pipeline, WINDOWS)

    assert stored_states(aws, PAGE_PK) == PAGE_STATES
    assert stored_states(aws, TICKET_PK) == ["OK"] * 6 + ["ALARM"] * 8
    # No traffic and no latency datapoint: the other SLOs have no events.
    for pk in ("slo#lambda_success#page#orders-handler", f"slo#api_latency#ticket#{API}"):
        assert set(stored_states(aws, pk)) == {"INSUFFICIENT_DATA"}

    first_alarm = aws.item(PAGE_PK, sk(6))
    assert first_alarm["policy"] == "page_fast" and first_alarm["notified"] is True
    assert float(first_alarm["long_burn_rate"]) == pytest.approx(200 / 7000 / 0.001)
    assert float(first_alarm["short_burn_rate"]) == pytest.approx(200.0)
    assert (first_alarm["long_bad"], first_alarm["long_total"]) == (200, 7000)
    # From W8 the 1 h pair's short window is clean: the 6 h pair keeps the page, over every window so far.
    held = aws.item(PAGE_PK, sk(8))
    assert held["policy"] == "page_slow" and held["notified"] is False
    assert float(held["value"]) == pytest.approx(400 / 9000 / 0.001)
    recovered = aws.item(PAGE_PK, sk(13))
    assert recovered["previous_state"] == "ALARM" and recovered["policy"] == "page_fast"
    # The value is the pair's burn rate, the lower of the two: the hour still burns at 400 / 12,000 / 0.001 = 33.3,
    # the last 5 minutes at 0, so 0, not above 14.4.
    assert float(recovered["long_burn_rate"]) == pytest.approx(400 / 12000 / 0.001) and recovered["value"] == 0

    sent = sorted(
        (n["message"]["rule_id"], n["message"]["state"], n["message"]["window_start"])
        for n in burn_rate_notifications(aws)
    )
    assert sent == [
        ("api_availability_page", "ALARM", sk(6)),
        ("api_availability_page", "OK", sk(13)),
        ("api_availability_ticket", "ALARM", sk(6)),
    ]


def test_a_burn_rate_notification_has_the_threshold_format_plus_kind_and_slo(aws, pipeline):
    publish_outage(aws)
    run_windows(pipeline, WINDOWS)
    page = next(
        n
        for n in burn_rate_notifications(aws)
        if n["message"]["rule_id"] == "api_availability_page" and n["message"]["state"] == "ALARM"
    )
    notification_id = page["attributes"]["notification_id"]
    assert page["attributes"] == {
        "source": "cw-pipeline",
        "rule_id": "api_availability_page",
        "state": "ALARM",
        "env": "dev",
        "kind": "transition",
        "notification_id": notification_id,
        "slo_id": "api_availability",
        "severity": "page",
    }
    assert str(uuid.UUID(notification_id)) == notification_id
    message = page["message"]
    assert message.pop("value") == pytest.approx(200 / 7000 / 0.001)
    assert message.pop("long_burn_rate") == pytest.approx(200 / 7000 / 0.001)
    assert message == {
        "kind": "transition",
        "notification_id": notification_id,
        "rule_id": "api_availability_page",
        "slo_id": "api_availability",
        "severity": "page",
        "policy": "page_fast",
        "service": "apigateway",
        "resource": API,
        "state": "ALARM",
        "previous_state": "OK",
        "window_start": "2026-11-20T12:30:00Z",
        "window_end": "2026-11-20T12:35:00Z",
        "threshold": 14.4,
        "long_window": "1h",
        "short_window": "5m",
        "short_burn_rate": 200.0,
        "objective": 99.9,
    }
    assert page["subject"] == f"[cw-analytics dev] ALARM SLO api_availability page: burn 28.6 vs 14.4 on {API}"


def test_each_transition_is_notified_exactly_once_across_reruns_and_split_runs(aws, pipeline):
    publish_outage(aws)
    run_windows(pipeline, WINDOWS[:10])  # the page fires in W6 and is still on at W9
    assert sorted((n["message"]["rule_id"], n["message"]["state"]) for n in burn_rate_notifications(aws)) == [
        ("api_availability_page", "ALARM"),
        ("api_availability_ticket", "ALARM"),
    ]

    run_windows(pipeline, WINDOWS[:10])  # a retry of the same run
    assert burn_rate_notifications(aws) == []

    run_windows(pipeline, WINDOWS[10:])  # the next run: W10's previous state is read back from W9's item
    recovered = burn_rate_notifications(aws)
    assert [(n["message"]["rule_id"], n["message"]["state"], n["message"]["window_start"]) for n in recovered] == [
        ("api_availability_page", "OK", sk(13))
    ]
    items = {(i["pk"], i["sk"]): {k: v for k, v in i.items() if k != "run_id"} for i in aws.items()}

    run_windows(pipeline, WINDOWS)  # a backfill over all of them
    run_windows(pipeline, WINDOWS[12:])  # a lookback re-read
    assert burn_rate_notifications(aws) == []
    assert {(i["pk"], i["sk"]): {k: v for k, v in i.items() if k != "run_id"} for i in aws.items()} == items
    assert stored_states(aws, PAGE_PK) == PAGE_STATES


def test_history_is_read_in_blocks_and_checks_carry_the_budget(aws, pipeline):
    publish_outage(aws)
    run_windows(pipeline, WINDOWS[:13])
    aws.calls.clear()
    result = run_windows(pipeline, WINDOWS[13:])

    # Only the outbox is queried: no aggregate is read back. BatchGetItem: the SLO history block the aggregates
    # step rewrites, the stored threshold states, the SLO history of the burn rates (13 six-hour blocks of 3
    # days for each of the 2 SLO resources: 26 keys), the stored burn-rate states.
    assert aws.calls[("dynamodb", "Query")] == 1
    assert aws.calls[("dynamodb", "BatchGetItem")] == 4
    (materialization,) = result.asset_materializations_for_node("slo_burn_rates")
    metadata = {name: value.value for name, value in materialization.metadata.items()}
    # Every window stored so far (12:00-13:05) is in the 12:00 block of the API and of the function.
    assert (metadata["history_blocks"], metadata["history_read_calls"]) == (2, 1)
    # The 3-day history from W13 holds every window stored so far: 14 API and 14 function windows.
    assert metadata["history_windows"] == 28
    assert metadata["notifications_sent"] == 1  # the page's recovery

    checks = {c.check_name: c for c in result.get_asset_check_evaluations() if c.asset_key.path == ["slo_burn_rates"]}
    assert set(checks) == {"api_availability", "lambda_success", "api_latency"}
    availability = checks["api_availability"]
    assert availability.passed is False  # the ticket is still in ALARM in W13
    # 400 bad of 14,000 requests over the history read: ratio 0.02857, budget left 1 - 0.02857 / 0.001.
    remaining = availability.metadata["budget_remaining"].value
    assert remaining == {API: pytest.approx(1 - 400 / 14000 / 0.001)}
    assert availability.metadata["budget_windows"].value == {API: 14}
    assert checks["lambda_success"].passed is True
    assert checks["lambda_success"].metadata["budget_remaining"].value == {"orders-handler": None}
