"""The shared development fakes: API-call counting against moto, environment patching, the Lambda context."""

from __future__ import annotations

import os

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError
from moto import mock_aws

from cw_local.fakes import ApiCall, FakeLambdaContext, counting_api_calls, patched_environment


def test_every_client_and_resource_call_is_counted_inside_the_block_only():
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        cloudwatch = session.client("cloudwatch")
        cloudwatch.list_metrics()  # before the block: not counted
        with counting_api_calls() as calls:
            cloudwatch.list_metrics()
            cloudwatch.list_metrics()
            boto3.client("sns", region_name="us-east-1").create_topic(Name="t")  # another session's client
            session.resource("dynamodb").meta.client.list_tables()
        cloudwatch.list_metrics()  # after the block: not counted

    assert dict(calls) == {
        ("cloudwatch", "ListMetrics"): 2,
        ("sns", "CreateTopic"): 1,
        ("dynamodb", "ListTables"): 1,
    }
    assert calls[ApiCall("cloudwatch", "ListMetrics")] == 2
    assert calls.labelled() == {"CloudWatch.ListMetrics": 2, "SNS.CreateTopic": 1, "DynamoDB.ListTables": 1}


def test_nested_blocks_each_count_what_happens_inside_them():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        with counting_api_calls() as outer:
            sqs.list_queues()
            with counting_api_calls() as inner:
                sqs.list_queues()
    assert outer[("sqs", "ListQueues")] == 2
    assert inner[("sqs", "ListQueues")] == 1


def test_a_retried_call_counts_once():
    """A dropped connection on the first attempt (injected at the boundary, before-send) is retried by botocore:
    one API call, two attempts."""
    attempts = []

    def drop_first_attempt(request, **_):
        attempts.append(request.url)
        if len(attempts) == 1:
            raise ConnectionClosedError(endpoint_url=request.url)

    with mock_aws():
        config = Config(retries={"mode": "standard", "max_attempts": 3})
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", config=config)
        cloudwatch.meta.events.register_first("before-send.cloudwatch.ListMetrics", drop_first_attempt)
        with counting_api_calls() as calls:
            cloudwatch.list_metrics()
    assert len(attempts) == 2
    assert dict(calls) == {("cloudwatch", "ListMetrics"): 1}


def test_patched_environment_sets_clears_and_restores(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CW_FAKES_KEPT", "before")
    monkeypatch.setenv("CW_FAKES_CLEARED", "present")
    monkeypatch.delenv("CW_FAKES_NEW", raising=False)
    with patched_environment({"CW_FAKES_KEPT": "inside", "CW_FAKES_NEW": "new"}, cleared=["CW_FAKES_CLEARED"]):
        assert os.environ["CW_FAKES_KEPT"] == "inside"
        assert os.environ["CW_FAKES_NEW"] == "new"
        assert "CW_FAKES_CLEARED" not in os.environ
    assert os.environ["CW_FAKES_KEPT"] == "before"
    assert os.environ["CW_FAKES_CLEARED"] == "present"
    assert "CW_FAKES_NEW" not in os.environ


def test_patched_environment_restores_after_an_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CW_FAKES_NEW", raising=False)
    with pytest.raises(RuntimeError), patched_environment({"CW_FAKES_NEW": "new"}):
        raise RuntimeError("inside")
    assert "CW_FAKES_NEW" not in os.environ


def test_the_lambda_context_describes_the_named_function():
    context = FakeLambdaContext(function_name="orders-handler", region="eu-west-1", remaining_time_in_millis=29_000)
    assert context.invoked_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:orders-handler"
    assert context.get_remaining_time_in_millis() == 29_000
    assert FakeLambdaContext().function_name == "cw-analytics-dev-aggregator"
    assert FakeLambdaContext().aws_request_id != FakeLambdaContext().aws_request_id
