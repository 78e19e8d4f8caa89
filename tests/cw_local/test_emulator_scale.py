"""The emulator's additions for large estates, in-process: ListMetrics from the index (RecentlyActive, filters,
pages), REST APIs in the tagging API, a DynamoDB Query that reads its partition, and the estate generator."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.cloudwatch.models import cloudwatch_backends

from cw_local import estate, fast_dynamodb, metric_index, percentiles, tagging
from cw_local.provision import provision
from cw_pipeline.catalog import Service

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def session():
    percentiles.install()
    tagging.install()
    with mock_aws():
        yield boto3.Session()


def put(cloudwatch, metric: str, dimensions: dict[str, str], namespace: str = "AWS/Lambda") -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": metric, "Timestamp": T0, "Value": 1.0,
                     "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]}],
    )  # fmt: skip


def listed(cloudwatch, **request) -> list[tuple[str, tuple]]:
    metrics, token = [], None
    while True:
        page = cloudwatch.list_metrics(**request, **({"NextToken": token} if token else {}))
        metrics += [(m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in page["Metrics"]]
        token = page.get("NextToken")
        if not token:
            return sorted(metrics)


def test_list_metrics_filters_like_aws(session):
    cloudwatch = session.client("cloudwatch")
    put(cloudwatch, "Invocations", {"FunctionName": "fn-a"})
    put(cloudwatch, "Invocations", {"FunctionName": "fn-a"})  # the same metric twice is listed once
    put(cloudwatch, "Invocations", {"FunctionName": "fn-b", "Resource": "fn-b:live"})
    put(cloudwatch, "Errors", {"FunctionName": "fn-c"})
    put(cloudwatch, "Count", {"ApiName": "api"}, namespace="AWS/ApiGateway")

    assert listed(cloudwatch, Namespace="AWS/Lambda", MetricName="Invocations") == [
        ("Invocations", (("FunctionName", "fn-a"),)),
        ("Invocations", (("FunctionName", "fn-b"), ("Resource", "fn-b:live"))),
    ]
    # A dimension name alone matches any value; other dimensions may be present.
    assert len(listed(cloudwatch, Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName"}])) == 3
    assert listed(cloudwatch, Dimensions=[{"Name": "FunctionName", "Value": "fn-c"}]) == [
        ("Errors", (("FunctionName", "fn-c"),))
    ]


def test_list_metrics_recently_active_counts_publication_time(session):
    cloudwatch = session.client("cloudwatch")
    put(cloudwatch, "Invocations", {"FunctionName": "fn-old"})
    put(cloudwatch, "Invocations", {"FunctionName": "fn-new"})
    # The emulator misbehaves on purpose: fn-old was last published 4 hours ago.
    index = metric_index.index_of(cloudwatch_backends["123456789012"]["us-east-1"])
    index.published[("AWS/Lambda", "Invocations", frozenset({("FunctionName", "fn-old")}))] = time.time() - 4 * 3600

    assert [d for _, d in listed(cloudwatch, Namespace="AWS/Lambda", RecentlyActive="PT3H")] == [
        (("FunctionName", "fn-new"),)
    ]
    assert len(listed(cloudwatch, Namespace="AWS/Lambda")) == 2
    with pytest.raises(ClientError, match="RecentlyActive"):
        cloudwatch.list_metrics(Namespace="AWS/Lambda", RecentlyActive="PT1H")


def test_list_metrics_pages_by_500(session):
    cloudwatch = session.client("cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[{"MetricName": "Invocations", "Timestamp": T0, "Value": 1.0,
                     "Dimensions": [{"Name": "FunctionName", "Value": f"fn-{i}"}]} for i in range(700)],
    )  # fmt: skip
    first = cloudwatch.list_metrics(Namespace="AWS/Lambda")
    assert len(first["Metrics"]) == 500 and first["NextToken"]
    second = cloudwatch.list_metrics(Namespace="AWS/Lambda", NextToken=first["NextToken"])
    assert len(second["Metrics"]) == 200 and not second.get("NextToken")


def test_tagged_rest_apis_are_in_get_resources(session):
    apigateway = session.client("apigateway")
    tagged = apigateway.create_rest_api(name="orders-api", tags={"team": "orders"})["id"]
    apigateway.create_rest_api(name="other-api", tags={"team": "other"})
    apigateway.create_rest_api(name="untagged-api")
    found = session.client("resourcegroupstaggingapi").get_resources(
        ResourceTypeFilters=["apigateway:restapis"], TagFilters=[{"Key": "team", "Values": ["orders"]}]
    )["ResourceTagMappingList"]
    assert found == [
        {
            "ResourceARN": f"arn:aws:apigateway:us-east-1::/restapis/{tagged}",
            "Tags": [{"Key": "team", "Value": "orders"}],
        }
    ]
    assert (
        session.client("resourcegroupstaggingapi").get_resources(ResourceTypeFilters=["lambda:function"])[
            "ResourceTagMappingList"
        ]
        == []
    )


def test_query_reads_its_partition_with_the_same_answers_as_moto(session):
    def answers() -> list:
        table = session.resource("dynamodb").Table(provision(session).table_name)
        answered = []
        for pk in ("p1", "p7", "absent"):
            for condition in (Key("pk").eq(pk), Key("pk").eq(pk) & Key("sk").between("020", "060")):
                request, pages = {"KeyConditionExpression": condition, "Limit": 9, "ScanIndexForward": False}, []
                while True:
                    page = table.query(**request)
                    pages.append([(i["pk"], i["sk"], int(i["n"])) for i in page["Items"]])
                    if "LastEvaluatedKey" not in page:
                        break
                    request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
                answered.append(pages)
        return answered

    rng = random.Random(5)
    items = [{"pk": f"p{rng.randint(0, 9)}", "sk": f"{rng.randint(0, 99):03d}", "n": i} for i in range(600)]
    table = session.resource("dynamodb").Table(provision(session).table_name)
    with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
        for item in items:
            batch.put_item(Item=item)
    expected = {}
    for item in items:
        expected[(item["pk"], item["sk"])] = item["n"]  # the last write of a key wins
    before = answers()
    fast_dynamodb.install()
    after = answers()
    assert after == before
    assert [len(pages) for pages in after[:2]] == [
        -(-sum(1 for pk, _ in expected if pk == "p1") // 9),
        -(-sum(1 for pk, sk in expected if pk == "p1" and "020" <= sk <= "060") // 9),
    ]
    assert {(pk, sk): n for pages in after[0] for pk, sk, n in pages} == {
        key: n for key, n in expected.items() if key[0] == "p1"
    }


def test_the_estate_generator_is_deterministic_and_sized(session):
    fleet = estate.Estate.of_size(30, 3, 2)
    first = estate.generate(fleet, T0, T0 + timedelta(minutes=3), seed=4)
    assert first == estate.generate(fleet, T0, T0 + timedelta(minutes=3), seed=4)
    assert first != estate.generate(fleet, T0, T0 + timedelta(minutes=3), seed=5)
    assert {p.resource for p in first if p.service is Service.RDS} == {"estate-db-00", "estate-db-01"}
    # Databases publish every minute; quiet functions may skip a minute, as on AWS.
    assert sum(p.service is Service.RDS for p in first) == 2 * 3 * 9
    incident = [p for p in first if p.resource == "estate-fn-0000" and p.metric_name == "Errors"]
    assert len(incident) == 3 and all(p.values[0] > 0 for p in incident)
    calls = estate.publish(first, session.client("cloudwatch"))
    assert calls == 3  # one namespace per call, each under 1,000 items
