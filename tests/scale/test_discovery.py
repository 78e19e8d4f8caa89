"""Discovery against moto: tags (GetResources, REST API ids mapped to names), metrics (ListMetrics), exclusions,
the configuration that selects them, and a pipeline run that finds its resources with no name list set."""

from __future__ import annotations

import pytest
from scale_support import (
    COLLECTED_AT,
    NOW,
    W1,
    W2,
    CallCounter,
    create_database,
    create_function,
    create_rest_api,
    materialized_metadata,
    put_metric,
    run,
    settings_for,
)

from cw_pipeline.catalog import METRICS, Service
from cw_pipeline.config import ConfigurationError, Discovery, MonitoredResource, Settings
from cw_pipeline.definitions import build_definitions
from cw_pipeline.discovery import discover, is_excluded

A, L, R = Service.APIGATEWAY, Service.LAMBDA, Service.RDS
CATALOG_METRICS = len({(m.service, m.metric_name) for m in METRICS})  # 5 API + 5 Lambda + 9 RDS = 19


def counted_clients(aws):
    """A ``client_for`` over the test session whose clients count their calls at the botocore boundary."""
    counter, clients = CallCounter(), {}

    def client_for(service: str):
        if service not in clients:
            clients[service] = aws.session.client(service)
            clients[service].meta.events.register("before-call", counter)
        return clients[service]

    return client_for, counter


def names(found) -> set[tuple[str, str]]:
    return {(r.service.value, r.name) for r in found.resources}


def test_metrics_mode_finds_what_published_a_catalog_metric_with_exactly_its_dimension(aws):
    when = W1.start
    put_metric(aws, "AWS/Lambda", "Invocations", {"FunctionName": "fn-a"}, when, 3)
    put_metric(aws, "AWS/Lambda", "Duration", {"FunctionName": "fn-b"}, when, 120)  # a catalog metric too
    put_metric(aws, "AWS/Lambda", "Invocations", {"FunctionName": "fn-c", "Resource": "fn-c:live"}, when, 1)
    put_metric(aws, "AWS/Lambda", "PostRuntimeExtensionsDuration", {"FunctionName": "fn-d"}, when, 1)  # not ours
    put_metric(aws, "Custom/App", "Invocations", {"FunctionName": "fn-e"}, when, 1)  # another namespace
    put_metric(aws, "AWS/ApiGateway", "Count", {"ApiName": "orders-api"}, when, 10)
    put_metric(aws, "AWS/ApiGateway", "Count", {"ApiName": "orders-api", "Stage": "prod"}, when, 10)
    put_metric(aws, "AWS/RDS", "FreeStorageSpace", {"DBInstanceIdentifier": "orders-db"}, when, 5e9)
    client_for, counter = counted_clients(aws)

    found = discover(Discovery.METRICS, client_for)

    assert names(found) == {("apigateway", "orders-api"), ("lambda", "fn-a"), ("lambda", "fn-b"), ("rds", "orders-db")}
    # One ListMetrics per (namespace, metric name) of the catalog, every one a single page here.
    assert counter.calls == {"ListMetrics": CATALOG_METRICS}
    assert found.calls == {"CloudWatch ListMetrics": CATALOG_METRICS}
    assert found.metadata()["resources_per_service"] == {"apigateway": 1, "lambda": 2, "rds": 1}


def test_metrics_mode_follows_list_metrics_pages(aws):
    functions = [f"fn-{i:04d}" for i in range(1200)]
    cloudwatch = aws.session.client("cloudwatch")
    for first in range(0, len(functions), 1000):
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {"MetricName": "Invocations", "Dimensions": [{"Name": "FunctionName", "Value": name}],
                 "Timestamp": W1.start, "Value": 1.0}
                for name in functions[first : first + 1000]
            ],
        )  # fmt: skip
    client_for, counter = counted_clients(aws)

    found = discover(Discovery.METRICS, client_for)

    assert [r.name for r in found.resources] == functions  # sorted, every one, once
    # 1,200 Invocations metrics are 3 pages of 500; the other 18 listings are one (empty) page each.
    assert counter.calls["ListMetrics"] == CATALOG_METRICS - 1 + 3


def test_tags_mode_maps_arns_to_dimension_values_and_rest_api_ids_to_names(aws):
    orders = {"team": "orders", "env": "prod"}
    create_function(aws, "orders-handler", orders)
    create_function(aws, "orders-worker", {"team": "orders", "env": "dev"})
    create_function(aws, "billing-handler", {"team": "billing", "env": "prod"})
    create_database(aws, "orders-db", orders)
    create_database(aws, "billing-db", {"team": "billing"})
    orders_api = create_rest_api(aws, "orders-api", orders)
    create_rest_api(aws, "billing-api", {"team": "billing", "env": "prod"})
    create_rest_api(aws, "untagged-api", {})
    client_for, counter = counted_clients(aws)

    found = discover(Discovery.TAGS, client_for, tags=[("team", "orders"), ("env", "prod")])

    assert names(found) == {("apigateway", "orders-api"), ("lambda", "orders-handler"), ("rds", "orders-db")}
    assert orders_api != "orders-api"  # the ARN carries the id; the ApiName dimension is the name
    assert counter.calls == {"GetResources": 1, "GetRestApis": 1}
    assert found.calls == {"Resource Groups Tagging GetResources": 1, "API Gateway GetRestApis": 1}


def test_tags_mode_a_key_given_twice_accepts_either_value(aws):
    create_function(aws, "orders-handler", {"team": "orders"})
    create_function(aws, "payments-handler", {"team": "payments"})
    create_function(aws, "billing-handler", {"team": "billing"})
    client_for, counter = counted_clients(aws)

    found = discover(Discovery.TAGS, client_for, tags=[("team", "orders"), ("team", "payments")])

    assert names(found) == {("lambda", "orders-handler"), ("lambda", "payments-handler")}
    assert counter.calls == {"GetResources": 1}  # no REST API found: GetRestApis is never called


def test_tags_mode_follows_get_resources_pages(aws):
    for i in range(130):
        create_function(aws, f"fn-{i:03d}", {"team": "orders"})
    client_for, counter = counted_clients(aws)

    found = discover(Discovery.TAGS, client_for, tags=[("team", "orders")])

    assert len(found.resources) == 130
    assert counter.calls["GetResources"] == 2  # 100 resources a page


def test_exclusions_match_the_name_or_service_and_name(aws):
    watched = {"apigateway": ["orders-api"], "lambda": ["orders-handler", "orders-canary", "legacy-x"]}
    found = discover(Discovery.NAMES, counted_clients(aws)[0], names=watched, exclude=["*-canary", "lambda:legacy-*"])

    assert names(found) == {("apigateway", "orders-api"), ("lambda", "orders-handler")}
    assert [f"{r.service.value}:{r.name}" for r in found.excluded] == ["lambda:orders-canary", "lambda:legacy-x"]
    assert found.metadata()["resources_excluded_count"] == 2
    assert not is_excluded(MonitoredResource(R, "legacy-x"), ["lambda:legacy-*"])
    assert is_excluded(MonitoredResource(R, "legacy-x"), ["legacy-*"])


def test_a_run_with_metrics_discovery_and_no_name_list(aws, tmp_path):
    put_metric(aws, "AWS/Lambda", "Invocations", {"FunctionName": "fn-a"}, W1.start, 4)
    put_metric(aws, "AWS/Lambda", "Invocations", {"FunctionName": "fn-b"}, W2.start, 6)
    put_metric(aws, "AWS/Lambda", "Invocations", {"FunctionName": "fn-canary"}, W2.start, 1)
    put_metric(aws, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "db-1"}, W1.start, 42)
    settings = settings_for(aws, CW_DISCOVERY="metrics", CW_EXCLUDE="*-canary")
    assert settings.resources == ()

    result = run(build_definitions(settings, NOW, work_dir=str(tmp_path), fixed_clock=COLLECTED_AT), [W1, W2])

    found = materialized_metadata(result, "cloudwatch_datapoints")
    assert found["discovery"] == "metrics"
    assert found["resources_per_service"] == {"apigateway": 0, "lambda": 2, "rds": 1}
    assert found["resources_sample"] == {"apigateway": [], "lambda": ["fn-a", "fn-b"], "rds": ["db-1"]}
    assert found["resources_excluded"] == ["lambda:fn-canary"]
    assert found["discovery_calls"] == {"CloudWatch ListMetrics": CATALOG_METRICS}
    assert materialized_metadata(result, "metric_aggregates")["items_written"] == 3 * 2
    assert aws.item("lambda#fn-b", "2026-11-20T12:05:00Z")["invocations"] == 6
    assert aws.item("lambda#fn-a", "2026-11-20T12:05:00Z")["invocations"] == 0  # counts without data are 0
    assert aws.item("rds#db-1", "2026-11-20T12:00:00Z")["cpu_avg_pct"] == 42
    assert aws.item("lambda#fn-canary", "2026-11-20T12:05:00Z") is None


def test_a_run_with_tags_discovery(aws, tmp_path):
    create_function(aws, "orders-handler", {"team": "orders"})
    create_rest_api(aws, "orders-api", {"team": "orders"})
    create_function(aws, "billing-handler", {"team": "billing"})
    put_metric(aws, "AWS/ApiGateway", "Count", {"ApiName": "orders-api"}, W1.start, 9)
    settings = settings_for(aws, CW_DISCOVERY="tags", CW_DISCOVERY_TAGS="team=orders")

    result = run(build_definitions(settings, NOW, work_dir=str(tmp_path), fixed_clock=COLLECTED_AT), [W1, W2])

    found = materialized_metadata(result, "cloudwatch_datapoints")
    assert found["resources_per_service"] == {"apigateway": 1, "lambda": 1, "rds": 0}
    assert found["discovery_calls"] == {"Resource Groups Tagging GetResources": 1, "API Gateway GetRestApis": 1}
    assert aws.item("apigateway#orders-api", "2026-11-20T12:00:00Z")["request_count"] == 9
    assert aws.item("lambda#billing-handler", "2026-11-20T12:00:00Z") is None


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"CW_DISCOVERY": "all"}, "CW_DISCOVERY='all' is not a discovery mode; expected one of names, tags, metrics"),
        ({"CW_DISCOVERY": "tags"}, "CW_DISCOVERY=tags needs CW_DISCOVERY_TAGS"),
        ({"CW_DISCOVERY": "tags", "CW_DISCOVERY_TAGS": "team"}, "'team' is not key=value"),
        ({"CW_DISCOVERY": "tags", "CW_DISCOVERY_TAGS": "=orders"}, "'=orders' is not key=value"),
        ({"CW_DISCOVERY_TAGS": "team=orders"}, "only read with CW_DISCOVERY=tags, not CW_DISCOVERY=names"),
        ({"CW_DISCOVERY": "metrics", "CW_FUNCTION_NAMES": "fn-a"}, "CW_FUNCTION_NAMES set with CW_DISCOVERY=metrics"),
        ({"CW_EXCLUDE": "fn a"}, "CW_EXCLUDE: 'fn a' contains a space"),
    ],
)
def test_bad_discovery_settings_are_refused_naming_the_variable(environment, message):
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(environment)


def test_discovery_settings_round_trip_through_the_environment():
    settings = Settings.from_env(
        {"CW_DISCOVERY": " Tags ", "CW_DISCOVERY_TAGS": "team=orders, team=payments,env=prod", "CW_EXCLUDE": "*-canary"}
    )
    assert settings.discovery is Discovery.TAGS
    assert settings.discovery_tags == (("team", "orders"), ("team", "payments"), ("env", "prod"))
    environment = settings.as_environment()
    assert environment["CW_DISCOVERY_TAGS"] == "team=orders,team=payments,env=prod"
    assert not {"CW_API_NAMES", "CW_FUNCTION_NAMES", "CW_DB_INSTANCE_IDS"} & set(environment)
    assert Settings.from_env(environment) == settings
