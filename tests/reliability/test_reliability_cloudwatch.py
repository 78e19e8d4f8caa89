"""CloudWatch answering badly: per-query errors, missing queries, partial pages, throttling bursts.

Issue 10, failure 1: an ``InternalError`` or ``Forbidden`` result used to become 0 requests and 0 errors,
turning alarms OK with a successful run. Now the run fails naming the queries, stores nothing, sends
nothing, and a re-run writes the fault-free table and sends each transition once.
"""

from __future__ import annotations

import pytest
from reliability_support import (
    EXPECTED_NOTIFICATIONS,
    Counter,
    MetricAnswers,
    converge,
    failure,
    faults,
    metric,
    sent,
    throttled,
)


def failing_queries(status: str, names: set[tuple[str, str]]):
    def change(query, result):
        if metric(query) in names:
            result.update(StatusCode=status, Timestamps=[], Values=[], Messages=[{"Code": status, "Value": "no"}])

    return change


@pytest.mark.parametrize("status", ["InternalError", "Forbidden"])
def test_a_query_answered_with_an_error_fails_the_run_naming_it(world, baseline, status):
    answers = MetricAnswers(failing_queries(status, {("Errors", "Sum"), ("5XXError", "Sum")}))
    with faults(*answers.hooks):
        result = world.run()
    assert not result.success and answers.changed == 2
    message = failure(result)
    assert "cloudwatch_datapoints: cw_pipeline.cloudwatch.QueryFailed: GetMetricData did not answer 2 of 27" in message
    assert f"apigateway:orders-api 5XXError Sum ({status}); lambda:orders-handler Errors Sum ({status})" in message
    assert world.items() == {} and world.notifications() == []  # no zero stored, no OK sent, lease released

    everything = converge(world, baseline, [])
    assert sent(everything) == EXPECTED_NOTIFICATIONS


def test_a_query_missing_from_the_answer_is_an_error_too(world, baseline):
    answers = MetricAnswers(lambda query, result: "drop" if metric(query) == ("Count", "Sum") else None)
    with faults(*answers.hooks):
        result = world.run()
    assert "apigateway:orders-api Count Sum (missing from the answer)" in failure(result)
    assert world.items() == {} and world.notifications() == []
    assert sent(converge(world, baseline, [])) == EXPECTED_NOTIFICATIONS


def test_partial_data_on_the_last_page_is_not_taken_as_complete(world, baseline):
    def change(query, result):
        if metric(query) == ("Duration", "Average"):
            result["StatusCode"] = "PartialData"  # and no NextToken to follow

    with faults(*MetricAnswers(change).hooks):
        result = world.run()
    assert "lambda:orders-handler Duration Average (PartialData)" in failure(result)
    assert world.items() == {}
    assert sent(converge(world, baseline, [])) == EXPECTED_NOTIFICATIONS


def test_partial_data_with_a_next_token_is_followed_to_the_end(world, baseline):
    """The first page carries each query's first datapoint only, PartialData and a NextToken; the second
    page (asked with that token) carries the rest, Complete."""
    rest: dict[str, dict] = {}
    pages = []

    def change(query, result):
        pass

    answers = MetricAnswers(change)

    def paginate(parsed, context, **kwargs):
        pages.append(context["next_token"])
        if context["next_token"] is None:
            for result in parsed["MetricDataResults"]:
                rest[result["Id"]] = {"Timestamps": result["Timestamps"][1:], "Values": result["Values"][1:]}
                result.update(
                    Timestamps=result["Timestamps"][:1], Values=result["Values"][:1], StatusCode="PartialData"
                )
            parsed["NextToken"] = "page-2"
        else:
            for result in parsed["MetricDataResults"]:
                result.update(rest[result["Id"]], StatusCode="Complete")

    with faults(answers.hooks[0], ("after-call.cloudwatch.GetMetricData", paginate)):
        result = world.run()
    assert result.success, failure(result)
    assert pages == [None, "page-2"]
    assert sum(len(r["Values"]) for r in rest.values()) > 0  # the second page did carry datapoints
    assert world.items() == baseline["items"]
    notifications = world.notifications()
    assert sent(notifications) == EXPECTED_NOTIFICATIONS
    assert converge(world, baseline, notifications) == notifications  # a re-run has nothing to add


def test_a_throttling_burst_is_absorbed_by_botocore_retries(world, baseline):
    """The first two attempts of GetMetricData, of the first BatchWriteItem and of the first Publish are
    throttled (HTTP 400 in each service's protocol, never reaching the emulator); the standard retry
    mode backs off and tries again, and the run stores and sends exactly what a fault-free run does."""
    bursts = {service: Counter(lambda n: n <= 2) for service in ("cloudwatch", "dynamodb", "sns")}

    def throttle(service):
        def hook(request, **_kwargs):
            return throttled(request, service) if bursts[service]() else None

        return hook

    with faults(
        ("before-send.cloudwatch.GetMetricData", throttle("cloudwatch")),
        ("before-send.dynamodb.BatchWriteItem", throttle("dynamodb")),
        ("before-send.sns.Publish", throttle("sns")),
    ):
        result = world.run()
    assert result.success, failure(result)
    assert {service: counter.hits for service, counter in bursts.items()} == {"cloudwatch": 2, "dynamodb": 2, "sns": 2}
    assert world.items() == baseline["items"]
    notifications = world.notifications()
    assert sent(notifications) == EXPECTED_NOTIFICATIONS  # a throttled Publish never reached SNS: no duplicate
    assert converge(world, baseline, notifications) == notifications


def test_retries_are_bounded_and_a_throttled_run_fails_naming_the_call(world, baseline):
    """Throttled on every attempt: 5 attempts (dagster-aws's ``max_attempts``, the first included), then
    the run fails naming GetMetricData and the error, with nothing stored."""
    always = Counter(lambda n: True)
    with faults(("before-send.cloudwatch.GetMetricData", lambda request, **_: always() and throttled(request, "x"))):
        result = world.run()
    assert always.hits == 5
    assert "CloudWatch GetMetricData on 27 queries" in failure(result) and "Throttling: Rate exceeded" in failure(
        result
    )
    assert world.items() == {} and world.notifications() == []
    assert sent(converge(world, baseline, [])) == EXPECTED_NOTIFICATIONS
