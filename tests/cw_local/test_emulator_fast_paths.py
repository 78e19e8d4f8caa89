"""The emulator's cheaper paths through moto (`cw_local.fast_dynamodb`, `cw_local.fast_server`, the answers of
`cw_local.percentiles`) answer and store exactly what moto does; partitions are created under a lock, so concurrent
writes lose nothing; connections stay open between requests."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.cloudwatch.models import cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionContext, ActionResult, get_service_model
from moto.core.serialize import JSONSerializer
from moto.dynamodb.models import dynamodb_backends

from cw_local import cloudwatch_answers, fast_dynamodb, percentiles
from cw_local.emulator import running_emulator
from cw_local.metric_index import list_metrics
from cw_local.provision import scan_table

SCENARIO = Path(__file__).with_name("fast_paths_scenario.py")


def scenario(*flags: str) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    completed = subprocess.run(
        [sys.executable, str(SCENARIO), *flags], capture_output=True, text=True, env=environment, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed.stdout


def test_the_patched_paths_answer_and_store_what_moto_does():
    # Each run in a fresh interpreter: moto as it is, and moto with the emulator's patches (which cannot be undone).
    plain, patched = scenario(), scenario("--patched")

    runs = json.loads(plain)
    assert set(runs) == {"mock_aws", "server"}
    labels = [label for label, _ in runs["server"]["answers"]]
    assert len(labels) == len(set(labels)) > 40
    # The run exercises successes and moto's refusals alike.
    statuses = {label: answer.get("status") for label, answer in runs["server"]["answers"]}
    assert statuses["new partitions"] == statuses["batch get"] == statuses["query"] == 200
    assert statuses["same item twice"] == statuses["an item over the size limit"] == statuses["not a number"] == 400
    assert statuses["an item at the size limit"] == 200
    assert runs["server"]["stored"]["metrics"]["items"] > 50
    # Same answers, errors, stored items (types, attribute order, sizes), partitions: the same text.
    assert patched == plain


@pytest.fixture
def backend():
    fast_dynamodb.install()
    with mock_aws():
        client = boto3.Session(region_name="us-east-1").client("dynamodb")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


def test_concurrent_writes_to_new_partitions_lose_no_item(backend):
    # Every thread writes its own item into each new partition, all threads at once (a barrier per partition),
    # through moto's put_item (what BatchWriteItem does per item), with threads switching as often as CPython
    # allows. moto alone lost 4 to 17 items of 4,000 this way (each thread can create the partition, the last
    # one created replaces the others' with what they wrote in it).
    threads, partitions = 8, 2000
    together = threading.Barrier(threads, timeout=60)
    errors: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for partition in range(partitions):
                together.wait()
                backend.put_item("t", {"pk": {"S": f"p{partition}"}, "sk": {"S": f"{thread:02d}"}})
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
            together.abort()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=write, args=(thread,)) for thread in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)

    assert errors == []
    table = backend.tables["t"]
    assert len(table.items) == partitions
    assert len(table) == threads * partitions


def test_concurrent_batch_writes_to_the_emulator_store_every_item():
    # The emulator as the pipeline meets it: many clients, BatchWriteItem calls in flight together, each batch
    # spread over partitions the others are creating at the same time.
    threads, rounds = 16, 12
    with running_emulator() as emulator:
        table = emulator.resources.table_name
        together = threading.Barrier(threads, timeout=60)
        errors: list[BaseException] = []

        def write(thread: int) -> None:
            client = emulator.client("dynamodb")
            try:
                for round_ in range(rounds):
                    together.wait()
                    requests = [
                        {"PutRequest": {"Item": {"pk": {"S": f"r{round_}-p{p}"}, "sk": {"S": f"{thread:02d}"}}}}
                        for p in range(25)
                    ]
                    response = client.batch_write_item(RequestItems={table: requests})
                    assert response["UnprocessedItems"] == {}
            except BaseException as error:  # reported below, in the test's thread
                errors.append(error)
                together.abort()

        workers = [threading.Thread(target=write, args=(thread,)) for thread in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        assert errors == []
        stored = {(item["pk"], item["sk"]) for item in scan_table(emulator.endpoint_session(), table)}
        assert stored == {(f"r{r}-p{p}", f"{t:02d}") for r in range(rounds) for p in range(25) for t in range(threads)}


def test_the_emulator_keeps_a_connection_open_between_requests():
    with running_emulator() as emulator:
        host, port = emulator.endpoint_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        list_tables = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        }
        local_ports = []

        def send(method: str, path: str, body: bytes, headers: dict) -> tuple[int, str | None, bytes]:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.status, response.getheader("Connection"), response.read()
            local_ports.append(connection.sock.getsockname()[1])
            return answer

        first = send("POST", "/", b"{}", list_tables)
        # A body the application never reads: it must not be taken for the next request.
        unread = send("GET", "/moto-api/data.json", b"x" * 5000, {"Content-Type": "text/plain"})
        last = send("POST", "/", b"{}", list_tables)
        connection.close()

    assert first[0] == last[0] == unread[0] == 200
    assert json.loads(first[2]) == json.loads(last[2]) == {"TableNames": [emulator.resources.table_name]}
    assert {first[1], unread[1], last[1]} == {None}  # no "Connection: close"
    assert len(set(local_ports)) == 1  # one connection for the three


def test_cloudwatch_answers_are_written_as_moto_serializes_them():
    # The emulator's GetMetricData and ListMetrics answers, built directly in their JSON form: byte for byte what
    # moto's serializer writes from the same results.
    percentiles.install()
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        start = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        for i in range(600):  # more than one ListMetrics page
            dimensions = [{"Name": "FunctionName", "Value": f"fn-{i:03d}"}]
            if i % 7 == 0:
                dimensions.append({"Name": "Resource", "Value": f"fn-{i:03d}:live"})
            cloudwatch.put_metric_data(
                Namespace="AWS/Lambda",
                MetricData=[
                    {"MetricName": "Duration", "Dimensions": dimensions, "Timestamp": start + timedelta(minutes=m),
                     "Values": [1.5 * i, 2.0 + m, 0.25], "Counts": [1, 2, 3], "Unit": "Milliseconds"}
                    for m in range(0, 10, 3)
                ],
            )  # fmt: skip
        backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        metric = lambda i: {"Namespace": "AWS/Lambda", "MetricName": "Duration",  # noqa: E731
                            "Dimensions": [{"Name": "FunctionName", "Value": f"fn-{i:03d}"}]}  # fmt: skip
        queries = [
            {"Id": f"q{i}", "MetricStat": {"Metric": metric(i), "Period": 300, "Stat": stat}}
            for i, stat in enumerate(["p95", "Sum", "Average", "SampleCount", "Maximum", "p99.9", "Minimum"])
        ]
        queries.append({"Id": "absent", "MetricStat": {"Metric": metric(999), "Period": 60, "Stat": "Sum"},
                        "Label": "no data"})  # fmt: skip
        queries.append({"Id": "copy", "Expression": "q1", "Label": "metric math"})
        metric_data = {
            scan_by: backend.get_metric_data(queries, start, start + timedelta(minutes=15), scan_by)
            for scan_by in ("TimestampAscending", "TimestampDescending")
        }
        token, first_page = list_metrics(backend, None, "AWS/Lambda", None, [], None)
        _, last_page = list_metrics(backend, token, None, None, [], None)

        def written(operation: str, result: dict, serialized: dict | None) -> tuple:
            service = get_service_model("cloudwatch")
            context = ActionContext(service, service.operation_model(operation), JSONSerializer, CloudWatchResponse())
            ours = cloudwatch_answers.SerializedResult(result, serialized).execute_result(context)
            assert ours == ActionResult(result).execute_result(context)
            return ours

        for results in metric_data.values():
            assert len(results) == len(queries) and any(r["values"] for r in results)
            _, _, body = written(
                "GetMetricData", {"MetricDataResults": results}, cloudwatch_answers.serialized_metric_data(results)
            )
            assert any(entry["Timestamps"] for entry in json.loads(body)["MetricDataResults"])
        assert token and len(first_page) == 500 and len(last_page) == 100
        for page, next_token in ((first_page, token), (last_page, None)):
            written(
                "ListMetrics",
                {"Metrics": page, "NextToken": next_token},
                cloudwatch_answers.serialized_metrics(page, next_token),
            )
