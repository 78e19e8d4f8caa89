"""The emulator subprocess: provisioning over HTTP, percentiles over HTTP, port refusal, clean stops."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from cw_local.emulator import EXIT_PORT_IN_USE, running_emulator
from cw_local.provision import read_notifications
from cw_pipeline import naming

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(port=0) as running:
        yield running
    assert running.exit_code == 0


def test_resources_are_provisioned(emulator):
    assert emulator.endpoint_url.startswith("http://127.0.0.1:")
    dynamodb = emulator.client("dynamodb")
    table = dynamodb.describe_table(TableName="cw-analytics-dev-metrics")["Table"]
    assert emulator.resources.table_name == "cw-analytics-dev-metrics"
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {("pk", "HASH"), ("sk", "RANGE")}
    ttl = dynamodb.describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")

    sns = emulator.client("sns")
    assert emulator.resources.topic_arn.endswith(":cw-analytics-dev-alerts")
    assert emulator.resources.topic_arn in {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    sqs = emulator.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=emulator.resources.inbox_queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=emulator.resources.topic_arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("sqs", queue_arn)]


def test_unchanged_code_reaches_it_through_the_environment(emulator, monkeypatch):
    for variable, value in emulator.environment().items():
        monkeypatch.setenv(variable, value)
    session = boto3.Session()  # no endpoint anywhere in the code: AWS_ENDPOINT_URL does it
    session.client("sns").publish(
        TopicArn=emulator.resources.topic_arn, Subject="test", Message='{"rule": "api_latency_avg"}'
    )
    notifications = read_notifications(session, emulator.resources.inbox_queue_url)
    assert [(n["subject"], n["message"]) for n in notifications] == [("test", {"rule": "api_latency_avg"})]


def test_p95_over_http(emulator):
    cloudwatch = emulator.client("cloudwatch")
    start = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
    dimensions = [{"Name": "FunctionName", "Value": naming.resource_name("dev", naming.API_FUNCTION)}]
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Duration",
                "Dimensions": dimensions,
                "Timestamp": start + timedelta(minutes=1),
                "Unit": "Milliseconds",
                "Values": [float(v) for v in range(1, 101)],  # 1..100: p95 is the 95th value
            }
        ],
    )
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": stat.lower(),
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Duration", "Dimensions": dimensions},
                    "Period": 300,
                    "Stat": stat,
                },
            }
            for stat in ("p95", "p99", "Average")
        ],
        StartTime=start,
        EndTime=start + timedelta(minutes=5),
    )
    values = {r["Id"]: r["Values"] for r in response["MetricDataResults"]}
    assert values == {"p95": [95.0], "p99": [99.0], "average": [50.5]}


def test_a_taken_port_is_refused_with_exit_code_2():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        finished = subprocess.run(
            [sys.executable, "-m", "cw_local.emulator", "--port", str(port)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert finished.returncode == EXIT_PORT_IN_USE
    assert f"port {port}" in finished.stderr
    assert "--port" in finished.stderr
    assert finished.stdout == ""


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_stops_cleanly_on_signal(signal_number):
    with running_emulator(port=0) as running:
        assert running.client("sns").list_topics()["Topics"]
        assert running.stop(signal_number) == 0
