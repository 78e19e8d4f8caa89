"""DynamoDB answering badly: UnprocessedItems, a failed write before publishing, a failed record after.

Issue 10, failure 5: boto3's batch writer resent UnprocessedItems 3,000 times in 0.07 s. Now each batch
is retried a bounded number of times with backoff, and the run then fails naming the table and count.
Issue 10, failure 3: a failed write after publishing used to lose the record of what was sent, and the
retry re-sent everything; now at most the one message whose record failed is sent again, same id.
"""

from __future__ import annotations

import json

from reliability_support import (
    EXPECTED_NOTIFICATIONS,
    THRESHOLD_NOTIFICATIONS,
    Counter,
    converge,
    failure,
    faults,
    http_response,
    ids,
    sent,
    server_error,
)

from cw_pipeline.table_writes import WRITE_ATTEMPTS


def unprocessed(counter: Counter):
    """A BatchWriteItem answer that processed nothing: every item handed back as UnprocessedItems."""

    def hook(request, **_kwargs):
        if not counter():
            return None
        body = json.loads(request.body)
        return http_response(request, 200, json.dumps({"UnprocessedItems": body["RequestItems"]}))

    return hook


def test_unprocessed_items_are_retried_with_backoff_until_written(world, baseline):
    """Two of every three BatchWriteItem calls hand everything back: each batch goes through on its third."""
    counter = Counter(lambda n: n % 3 != 0)
    with faults(("before-send.dynamodb.BatchWriteItem", unprocessed(counter))):
        result = world.run()
    assert result.success, failure(result)
    # 9 aggregates and the 2 SLO history blocks in one batch; the threshold evaluations that owe nothing in another;
    # the 14 burn-rate
    # evaluations that owe nothing (18 less the 4 that fire) in a third: 3 batches x 3 calls.
    assert (counter.seen, counter.hits) == (9, 6)
    assert world.items() == baseline["items"]
    notifications = world.notifications()
    assert sent(notifications) == EXPECTED_NOTIFICATIONS
    assert converge(world, baseline, notifications) == notifications


def test_unprocessed_items_forever_fail_the_run_after_its_budget_naming_table_and_count(world, baseline):
    counter = Counter(lambda n: True)
    with faults(("before-send.dynamodb.BatchWriteItem", unprocessed(counter))):
        result = world.run()
    assert counter.seen == WRITE_ATTEMPTS == 8  # then it stops: no spinning until the Lambda times out
    assert (
        "metric_aggregates: cw_pipeline.table_writes.UnprocessedItemsError: DynamoDB BatchWriteItem on table "
        "cw-analytics-dev-metrics: 11 item(s) still unprocessed after 8 attempts"  # 9 aggregates, 2 SLO history blocks
    ) in failure(result)
    assert world.items() == {} and world.notifications() == []  # the lease was released too
    assert sent(converge(world, baseline, [])) == EXPECTED_NOTIFICATIONS


def test_a_failed_evaluation_write_publishes_nothing_and_the_rerun_sends_each_once(world, baseline):
    """The transaction that stores the evaluations owing a notification, with their outbox entries, fails
    on every attempt (HTTP 500): the run fails before any publish."""
    counter = Counter(lambda n: True)
    with faults(
        ("before-send.dynamodb.TransactWriteItems", lambda request, **_: counter() and server_error(request, "x"))
    ):
        result = world.run()
    assert counter.seen == 5  # botocore's attempts of that one call
    assert "alert_evaluations: " in failure(result) and "DynamoDB TransactWriteItems on table" in failure(result)
    assert world.notifications() == []
    assert not [key for key in world.items() if key[0] == "outbox"]
    assert sent(converge(world, baseline, [])) == EXPECTED_NOTIFICATIONS


def test_a_failed_record_after_a_publish_resends_only_that_message_with_the_same_id(world, baseline):
    """Recording the third publish (its TransactWriteItems: evaluation updated, outbox entry deleted) fails
    on every attempt. The run fails; SNS has three messages; the re-run sends the six others and, because
    the third was never recorded, the third again: the one duplicate the delivery contract allows, with
    the same notification_id, so a subscriber drops it."""
    records: list[bytes] = []

    def fail_third_record(request, **_kwargs):
        if b'"Update"' not in request.body:
            return None  # the write of evaluations with their outbox entries
        if request.body not in records:  # botocore's retries resend the same body (same ClientRequestToken)
            records.append(request.body)
        return server_error(request, "dynamodb") if records.index(request.body) == 2 else None

    with faults(("before-send.dynamodb.TransactWriteItems", fail_third_record)):
        result = world.run()
    assert "DynamoDB TransactWriteItems on table cw-analytics-dev-metrics" in failure(result)
    first = world.notifications()
    assert len(first) == 3
    outbox = [item for key, item in world.items().items() if key[0] == "outbox"]
    # The third and the six never published; the SLOs' step, after the threshold rules', never ran.
    assert len(outbox) == len(THRESHOLD_NOTIFICATIONS) - 2

    everything = converge(world, baseline, first)
    assert sorted(set(sent(everything))) == EXPECTED_NOTIFICATIONS
    assert len(everything) == len(EXPECTED_NOTIFICATIONS) + 1
    assert sorted(set(ids(everything))) == baseline["ids"]
    assert [i for i in ids(everything) if ids(everything).count(i) == 2] == [ids(first)[2]] * 2
