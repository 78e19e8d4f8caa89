"""SNS answering badly, and processes dying in the middle of the publish loop.

Each case counts the messages that reached the topic (read back from the queue subscribed to it): every
transition at least once, and a second copy only where the delivery contract allows one, when SNS
accepted a message whose acceptance the pipeline could not record; that copy has the same id.
"""

from __future__ import annotations

import signal

import requests
from botocore.exceptions import ReadTimeoutError
from reliability_support import (
    EXPECTED_NOTIFICATIONS,
    after_lease_expiry,
    converge,
    failure,
    faults,
    http_response,
    ids,
    sent,
    start_child,
)


def nth_message(n: int, misbehave):
    """A ``before-send.sns.Publish`` hook that calls ``misbehave(request)`` for every attempt of the n-th
    distinct message (botocore resends the same body on a retry) and lets the others through."""
    bodies: list = []

    def hook(request, **_kwargs):
        if request.body not in bodies:
            bodies.append(request.body)
        return misbehave(request) if bodies.index(request.body) == n - 1 else None

    return hook


def refused(request):
    body = (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
        "<Code>AuthorizationError</Code><Message>not allowed</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    )
    return http_response(request, 403, body, {"content-type": "text/xml"})


def test_sns_refusing_one_message_fails_the_run_and_the_rerun_sends_the_rest_once(world, baseline):
    with faults(("before-send.sns.Publish", nth_message(3, refused))):
        result = world.run()
    assert "alert_evaluations: " in failure(result) and "SNS Publish on topic" in failure(result)
    assert "AuthorizationError: not allowed" in failure(result)
    first = world.notifications()
    assert len(first) == 2

    everything = converge(world, baseline, first)
    assert sent(everything) == EXPECTED_NOTIFICATIONS  # 2 + 7: none missing, none twice
    assert sorted(ids(everything)) == baseline["ids"]


def test_sns_delivering_but_its_answer_lost_is_retried_and_the_copy_has_the_same_id(world, baseline):
    """The second message reaches SNS, then its HTTP answer is lost (a read timeout). botocore's retry
    publishes it again: SNS standard topics do not de-duplicate, so the subscriber gets two copies with
    one notification_id, and the run succeeds with the fault-free table."""
    lost = []

    def deliver_then_lose(request):
        if lost:
            return None  # the retry goes through
        requests.post(request.url, data=request.body, headers=dict(request.headers.items()), timeout=30)
        lost.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    with faults(("before-send.sns.Publish", nth_message(2, deliver_then_lose))):
        result = world.run()
    assert result.success, failure(result)
    assert world.items() == baseline["items"]
    notifications = world.notifications()
    assert (
        sorted(set(sent(notifications))) == EXPECTED_NOTIFICATIONS
        and len(notifications) == len(EXPECTED_NOTIFICATIONS) + 1
    )  # one duplicate
    doubled = [i for i in ids(notifications) if ids(notifications).count(i) == 2]
    assert len(doubled) == 2 and len(set(doubled)) == 1
    assert converge(world, baseline, notifications) == notifications  # recorded once: not sent a third time


def test_a_process_killed_between_a_publish_and_its_record_resends_that_one_message(world, baseline):
    """The aggregator process is SIGKILLed right after SNS accepted its third message (Lambda stopping a
    timed-out invocation looks the same). Its lease stays until it expires: a run before that is refused
    naming the dead run; the run after it sends what the outbox still holds, the third message included."""
    child = start_child(world, "after-call.sns.Publish", 3)
    child.communicate(timeout=300)
    assert child.returncode == -signal.SIGKILL
    first = world.notifications()
    assert len(first) == 3
    lease = world.items()[("lease", "pipeline-run")]

    blocked = world.run()
    assert f"holds the lease on table cw-analytics-dev-metrics: run {lease['holder']}" in failure(blocked)
    assert world.notifications() == []

    everything = converge(world, baseline, first, clock=after_lease_expiry())
    assert (
        sorted(set(sent(everything))) == EXPECTED_NOTIFICATIONS and len(everything) == len(EXPECTED_NOTIFICATIONS) + 1
    )  # one duplicate
    assert [i for i in ids(everything) if ids(everything).count(i) == 2] == [ids(first)[2]] * 2


def test_a_process_killed_before_a_publish_loses_nothing_and_duplicates_nothing(world, baseline):
    child = start_child(world, "before-call.sns.Publish", 3)
    child.communicate(timeout=300)
    assert child.returncode == -signal.SIGKILL
    first = world.notifications()
    assert len(first) == 2

    everything = converge(world, baseline, first, clock=after_lease_expiry())
    assert sent(everything) == EXPECTED_NOTIFICATIONS
    assert sorted(ids(everything)) == baseline["ids"]
