"""Late datapoints that change a window already notified, in each direction (issue 10, failure 2).

A correction is sent once, with ``kind = correction``, ``corrects`` (the state notified before) and the
new ``state``; the evaluation remembers what was notified instead of forgetting it. The table after the
late data equals a fault-free run over the final data, except for that memory of what was notified.
"""

from __future__ import annotations

import uuid

from reliability_support import API, EXPECTED_NOTIFICATIONS, FUNCTION, W1, W2, minute

from cw_pipeline.outbox import NOTIFICATION_NAMESPACE

BOOKKEEPING = ("notified", "notified_state", "notifications", "notification_id")


def without_bookkeeping(items: dict) -> dict:
    return {key: {k: v for k, v in item.items() if k not in BOOKKEEPING} for key, item in items.items()}


def final_table(world, late) -> dict:
    """What a fault-free run stores when the late datapoints were there from the start."""
    late(world.session.client("cloudwatch"))
    assert world.run().success
    table = without_bookkeeping(world.items())
    world.reset()
    return table


def put(cloudwatch, namespace, dimension, name, metric, when, values) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": metric, "Dimensions": [{"Name": dimension, "Value": name}], "Timestamp": when,
                     "Values": values}],
    )  # fmt: skip


def expected_id(rule: str, resource: str, window: str, state: str, corrects: str, sequence: int) -> str:
    """The derivation documented in cw_pipeline/outbox.py, written out here."""
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{rule}|{resource}|{window}|{state}|{corrects}|{sequence}"))


def test_an_alarm_that_late_data_turns_ok_is_corrected_once(world):
    def late(cloudwatch):  # 70 more requests in W1: 3 errors in 100 requests, 3 %, under the 5 % threshold
        put(cloudwatch, "AWS/ApiGateway", "ApiName", API, "Count", minute(W1, 4), [70.0])

    final = final_table(world, late)
    assert world.run().success and len(world.notifications()) == len(EXPECTED_NOTIFICATIONS)
    late(world.session.client("cloudwatch"))
    assert world.run().success
    [correction] = world.notifications()

    correction_id = expected_id("api_error_rate", API, "2026-11-20T12:00:00Z", "OK", "ALARM", 1)
    assert correction["attributes"] == {
        "source": "cw-pipeline", "rule_id": "api_error_rate", "state": "OK", "env": "dev", "kind": "correction",
        "notification_id": correction_id,
    }  # fmt: skip
    body = correction["message"]
    assert (body["kind"], body["corrects"], body["state"], body["value"]) == ("correction", "ALARM", "OK", 3.0)
    assert (body["window_start"], body["previous_state"]) == ("2026-11-20T12:00:00Z", "INSUFFICIENT_DATA")
    assert correction["subject"] == "[cw-analytics dev] CORRECTION ALARM->OK api_error_rate: 3 vs 5 on orders-api"

    assert world.run().success and world.notifications() == []  # sent once
    items = world.items()
    assert without_bookkeeping(items) == final
    w1 = items[(f"alert#api_error_rate#{API}", "2026-11-20T12:00:00Z")]
    assert (w1["state"], w1["notified_state"], w1["notified"], w1["notifications"]) == ("OK", "OK", True, 2)
    assert w1["notification_id"] == correction_id
    # W2 was notified as ALARM -> OK; it is now OK after OK, which it was told already: nothing owed.
    w2 = items[(f"alert#api_error_rate#{API}", "2026-11-20T12:05:00Z")]
    assert (w2["state"], w2["previous_state"], w2["notified_state"]) == ("OK", "OK", "OK")


def test_an_ok_that_late_data_turns_alarm_is_corrected_and_the_next_window_notified(world):
    def late(cloudwatch):  # 15 errors arrive late for W2, whose OK (0 errors) was notified
        put(cloudwatch, "AWS/Lambda", "FunctionName", FUNCTION, "Errors", minute(W2, 3), [15.0])

    final = final_table(world, late)
    assert world.run().success and len(world.notifications()) == len(EXPECTED_NOTIFICATIONS)
    late(world.session.client("cloudwatch"))
    assert world.run().success
    told = sorted(
        (n["attributes"]["kind"], n["message"]["window_start"], n["message"].get("corrects"), n["message"]["state"],
         n["attributes"]["notification_id"])
        for n in world.notifications()
    )  # fmt: skip
    assert told == sorted(
        [
            # W2 was told OK; it is ALARM (15 > 10), after W1's ALARM.
            ("correction", "2026-11-20T12:05:00Z", "OK", "ALARM",
             expected_id("lambda_errors", FUNCTION, "2026-11-20T12:05:00Z", "ALARM", "OK", 1)),
            # W3 (0 errors) was OK after OK, so never told; it is now ALARM -> OK.
            ("transition", "2026-11-20T12:10:00Z", None, "OK",
             expected_id("lambda_errors", FUNCTION, "2026-11-20T12:10:00Z", "OK", "-", 0)),
        ]
    )  # fmt: skip
    assert world.run().success and world.notifications() == []
    assert without_bookkeeping(world.items()) == final
