"""The 1,000-function estate (1,000 functions, 50 REST APIs, 20 databases) over 2 windows, in one run on moto:
the item counts, the call counts of issue 11's budget, and values checked against the published datapoints."""

from __future__ import annotations

import math

import pytest
from scale_support import COLLECTED_AT, NOW, W1, W2, materialized_metadata, run, settings_for

from cw_local import estate
from cw_pipeline.catalog import Service
from cw_pipeline.definitions import build_definitions
from cw_pipeline.thresholds import rules_for

FUNCTIONS, APIS, DATABASES = 1000, 50, 20
QUERIES = FUNCTIONS * 8 + APIS * 8 + DATABASES * 11  # catalog rows per service: 8, 8, 11


@pytest.fixture(scope="module")
def fleet() -> estate.Estate:
    return estate.Estate.of_size(FUNCTIONS, APIS, DATABASES)


def published(points, service: Service, resource: str, metric: str, window) -> list[estate.EstateDatapoint]:
    return [
        p
        for p in points
        if p.service is service and p.resource == resource and p.metric_name == metric
        and window.start <= p.timestamp < window.end
    ]  # fmt: skip


def test_the_estate_in_one_scheduled_run(aws, fleet, tmp_path):
    points = estate.generate(fleet, W1.start, W2.end)
    estate.publish(points, aws.session.client("cloudwatch"))
    settings = settings_for(aws, **fleet.name_environment())
    assert len(settings.resources) == FUNCTIONS + APIS + DATABASES

    result = run(build_definitions(settings, NOW, work_dir=str(tmp_path), fixed_clock=COLLECTED_AT), [W1, W2])

    pulled = materialized_metadata(result, "cloudwatch_datapoints")
    assert pulled["queries"] == QUERIES == 8620
    assert pulled["get_metric_data_calls"] == math.ceil(QUERIES / 500) == 18  # 2 windows fit in one time slice
    rule_pairs = sum(len(rules_for(s)) * n for s, n in ((Service.LAMBDA, FUNCTIONS), (Service.APIGATEWAY, APIS),
                                                        (Service.RDS, DATABASES)))  # fmt: skip
    assert rule_pairs == 2140
    aggregated = materialized_metadata(result, "metric_aggregates")
    evaluated = materialized_metadata(result, "alert_evaluations")
    assert aggregated["items_written"] == (FUNCTIONS + APIS + DATABASES) * 2
    assert evaluated["evaluations_written"] == rule_pairs * 2
    # Stored states: the window before W1, W1 and W2 for every rule and resource, 100 keys a BatchGetItem.
    assert evaluated["stored_state_read_calls"] == math.ceil(rule_pairs * 3 / 100) == 65

    items = aws.items()
    by_prefix: dict[str, int] = {}
    for item in items:
        prefix = item["pk"].split("#")[0]
        by_prefix[prefix] = by_prefix.get(prefix, 0) + 1
    # Burn rates: lambda_success per function, api_availability and api_latency per API, at 2 severities and 2
    # windows. The SLO history: W1 and W2 are in one six-hour block per API and function. No outbox entry and no
    # run lease are left behind.
    slo_items = (FUNCTIONS * 1 + APIS * 2) * 2 * 2
    assert by_prefix == {
        "lambda": 2000, "apigateway": 100, "rds": 40, "alert": 4280, "slo": slo_items, "slo_history": FUNCTIONS + APIS
    }  # fmt: skip
    assert aggregated["slo_history_blocks_written"] == FUNCTIONS + APIS
    burned = materialized_metadata(result, "slo_burn_rates")
    assert burned["evaluations_written"] == slo_items == 4400
    # 3 days of history are 13 blocks per API and function, 100 keys a BatchGetItem; only W1's block exists yet.
    assert burned["history_read_calls"] == math.ceil((FUNCTIONS + APIS) * 13 / 100) == 137
    assert burned["history_blocks"] == FUNCTIONS + APIS

    # Spot checks against the datapoints as published: a function in incident and a quiet one, an API, a database.
    for name in ("estate-fn-0100", "estate-fn-0457"):
        item = aws.item(f"lambda#{name}", "2026-11-20T12:00:00Z")
        invocations = published(points, Service.LAMBDA, name, "Invocations", W1)
        assert item["invocations"] == sum(p.total() for p in invocations)
        durations = published(points, Service.LAMBDA, name, "Duration", W1)
        if durations:
            mean = math.fsum(p.total() for p in durations) / math.fsum(p.sample_count() for p in durations)
            assert float(item["duration_avg_ms"]) == pytest.approx(mean, rel=1e-12)
    api = aws.item("apigateway#estate-api-000", "2026-11-20T12:05:00Z")
    requests = sum(p.total() for p in published(points, Service.APIGATEWAY, "estate-api-000", "Count", W2))
    failed = sum(p.total() for m in ("4XXError", "5XXError")
                 for p in published(points, Service.APIGATEWAY, "estate-api-000", m, W2))  # fmt: skip
    assert float(api["error_rate_pct"]) == pytest.approx(100 * failed / requests, rel=1e-12)
    database = aws.item("rds#estate-db-00", "2026-11-20T12:00:00Z")
    cpu = [p.values[0] for p in published(points, Service.RDS, "estate-db-00", "CPUUtilization", W1)]
    assert float(database["cpu_avg_pct"]) == pytest.approx(sum(cpu) / len(cpu), rel=1e-12)

    # The incident functions (every 100th) breach the errors rule in W1, coming from no data: one notification each.
    notifications = [n["message"] for n in aws.notifications()]
    incident = {f"estate-fn-{i:04d}" for i in range(0, FUNCTIONS, estate.INCIDENT_EVERY)}
    assert {n["resource"] for n in notifications if n["rule_id"] == "lambda_errors"} == incident
    # ... and page on lambda_success in W1 (30 % errors burn a 99.9 % budget 300 times over), once: W2 stays in ALARM.
    paged = [(n["resource"], n["window_start"]) for n in notifications if n["rule_id"] == "lambda_success_page"]
    assert {(name, "2026-11-20T12:00:00Z") for name in incident} <= set(paged)
    assert len(paged) == len(set(paged))

    # The page's burn rates of an incident function in W2, from the published datapoints: its 1-hour and 5-minute
    # windows hold what the table has (W1 and W2; W2 alone).
    page = aws.item("slo#lambda_success#page#estate-fn-0100", "2026-11-20T12:05:00Z")
    name = "estate-fn-0100"
    errors = {w: sum(p.total() for p in published(points, Service.LAMBDA, name, "Errors", w)) for w in (W1, W2)}
    calls = {w: sum(p.total() for p in published(points, Service.LAMBDA, name, "Invocations", w)) for w in (W1, W2)}
    assert (page["state"], page["policy"], page["long_window"]) == ("ALARM", "page_fast", "1h")
    assert float(page["long_bad"]) == errors[W1] + errors[W2]
    assert float(page["long_total"]) == calls[W1] + calls[W2]
    budget = 1 - 0.999
    long_rate = (errors[W1] + errors[W2]) / (calls[W1] + calls[W2]) / budget
    assert float(page["long_burn_rate"]) == pytest.approx(long_rate, rel=1e-9)
    assert float(page["short_burn_rate"]) == pytest.approx(errors[W2] / calls[W2] / budget, rel=1e-9)
