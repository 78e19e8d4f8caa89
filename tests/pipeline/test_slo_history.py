"""The SLO history: six hours of a resource's SLO attributes to an item, rewritten with the aggregates and read
back by the burn rates instead of three days of aggregates."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from pipeline_support import COLLECTED_AT, W1, minute, run_windows

from cw_pipeline import slo_history
from cw_pipeline.aggregation import aggregate, aggregate_items
from cw_pipeline.catalog import Service
from cw_pipeline.config import MonitoredResource
from cw_pipeline.defs.metric_store import MetricStore
from cw_pipeline.windows import WINDOW, windows_between

DAY = datetime(2026, 11, 20, tzinfo=UTC)
API_BLOCK = ("slo_history#apigateway#orders-api", "2026-11-20T00:00:00Z")
API_NEXT_BLOCK = ("slo_history#apigateway#orders-api", "2026-11-20T06:00:00Z")
FUNCTION_BLOCK = ("slo_history#lambda#orders-handler", "2026-11-20T00:00:00Z")
TENTH_SUM = 0.1 + 0.2  # 0.30000000000000004: a float whose shortest repr is long


def at(hour: int, minute_: int) -> pd.Timestamp:
    return pd.Timestamp(DAY + timedelta(hours=hour, minutes=minute_))


def frame(rows: list[dict]) -> pd.DataFrame:
    """An aggregates frame: keys, and NaN for every attribute a row does not give."""
    columns = ["request_count", "errors_4xx", "errors_5xx", "latency_p95_ms", "invocations", "errors", "cpu_avg_pct"]
    return pd.DataFrame([{column: math.nan for column in columns} | row for row in rows])


FIRST_RUN = frame(
    [
        {"service": "apigateway", "resource": "orders-api", "window_start": at(5, 50),
         "request_count": 100.0, "errors_4xx": 7.0, "errors_5xx": 1.0, "latency_p95_ms": 250.5},
        {"service": "apigateway", "resource": "orders-api", "window_start": at(5, 55),
         "request_count": 0.0, "errors_4xx": 0.0, "errors_5xx": 0.0},
        {"service": "apigateway", "resource": "orders-api", "window_start": at(6, 0),
         "request_count": 120.0, "errors_4xx": 0.0, "errors_5xx": 0.0, "latency_p95_ms": TENTH_SUM},
        {"service": "lambda", "resource": "orders-handler", "window_start": at(5, 55), "invocations": 10.0,
         "errors": 2.0},
        {"service": "rds", "resource": "orders-db", "window_start": at(6, 0), "cpu_avg_pct": 12.5},
    ]
)  # fmt: skip


def by_key(blocks: list[dict]) -> dict[tuple[str, str], dict]:
    return {(block["pk"], block["sk"]): block for block in blocks}


def test_a_block_holds_72_windows_of_the_attributes_the_slos_read_and_nothing_of_other_services():
    blocks = by_key(slo_history.updated_blocks(FIRST_RUN, {}, "run-1", retention_days=90))

    assert set(blocks) == {API_BLOCK, API_NEXT_BLOCK, FUNCTION_BLOCK}  # no SLO reads a database
    api = blocks[API_BLOCK]
    kept = {"request_count", "errors_5xx", "latency_p95_ms"}  # not errors_4xx: no SLO reads it
    bookkeeping = {"pk", "sk", "kind", "service", "resource", "block_start", "block_end", "run_id", "expires_at"}
    assert set(api) == kept | bookkeeping
    assert (api["kind"], api["block_start"], api["block_end"]) == (
        "slo_history", "2026-11-20T00:00:00Z", "2026-11-20T06:00:00Z",
    )  # fmt: skip
    # 05:50 and 05:55 are the 71st and 72nd windows of the 00:00 block; nothing else is known.
    assert json.loads(api["request_count"]) == [None] * 70 + [100, 0]
    assert json.loads(api["errors_5xx"]) == [None] * 70 + [1, 0]
    assert json.loads(api["latency_p95_ms"]) == [None] * 70 + [250.5, None]
    assert json.loads(blocks[API_NEXT_BLOCK]["latency_p95_ms"]) == [TENTH_SUM] + [None] * 71
    assert json.loads(blocks[FUNCTION_BLOCK]["errors"]) == [None] * 71 + [2]
    # Kept as long as the aggregate of its last window (05:55) plus the retention.
    assert api["expires_at"] == int((DAY + timedelta(hours=5, minutes=55) + timedelta(days=90)).timestamp())


def test_a_rewrite_keeps_the_windows_it_does_not_carry():
    first = by_key(slo_history.updated_blocks(FIRST_RUN, {}, "run-1", retention_days=90))
    late = frame([{"service": "apigateway", "resource": "orders-api", "window_start": at(5, 55),
                   "request_count": 40.0, "errors_4xx": 0.0, "errors_5xx": 3.0, "latency_p95_ms": 900.0}])  # fmt: skip

    (rewritten,) = slo_history.updated_blocks(late, first, "run-2", retention_days=90)

    assert (rewritten["pk"], rewritten["sk"], rewritten["run_id"]) == (*API_BLOCK, "run-2")
    assert json.loads(rewritten["request_count"]) == [None] * 70 + [100, 40]
    assert json.loads(rewritten["errors_5xx"]) == [None] * 70 + [1, 3]
    assert json.loads(rewritten["latency_p95_ms"]) == [None] * 70 + [250.5, 900]


def test_the_history_gives_back_the_aggregates_values_exactly_for_the_windows_asked():
    blocks = slo_history.updated_blocks(FIRST_RUN, {}, "run-1", retention_days=90)

    history = slo_history.history(blocks, DAY + timedelta(hours=5, minutes=55), DAY + timedelta(hours=6))

    # 05:50 is before the range; the database has no SLO; the function has no window at 06:00.
    assert list(zip(history["service"], history["resource"], history["window_start"], strict=True)) == [
        ("apigateway", "orders-api", at(5, 55)),
        ("apigateway", "orders-api", at(6, 0)),
        ("lambda", "orders-handler", at(5, 55)),
    ]
    api = history[history["service"] == "apigateway"].set_index("window_start")
    assert api.loc[at(5, 55), "request_count"] == 0 and math.isnan(api.loc[at(5, 55), "latency_p95_ms"])
    assert api.loc[at(6, 0), "latency_p95_ms"] == TENTH_SUM  # exactly: no rounding on the way
    assert history.loc[history["service"] == "lambda", ["invocations", "errors"]].values.tolist() == [[10.0, 2.0]]


def test_block_keys_cover_three_days_in_13_blocks_for_the_resources_an_slo_reads():
    resources = [MonitoredResource(Service.APIGATEWAY, "orders-api"), MonitoredResource(Service.RDS, "orders-db")]
    first, last = W1.start - timedelta(days=3) + WINDOW, W1.start  # 2026-11-17 12:05 .. 2026-11-20 12:00

    keys = slo_history.block_keys(resources, first, last)

    assert keys[0] == ("slo_history#apigateway#orders-api", "2026-11-17T12:00:00Z")
    assert keys[-1] == ("slo_history#apigateway#orders-api", "2026-11-20T12:00:00Z")
    assert len(keys) == 13


def seed_three_days(aws, settings) -> None:
    """The 864 windows before W1 as the aggregates step stores them: 1,000 requests a window; 5XX: 1,000 in the
    first (three days and one window before W1, outside W1's 3-day span), 5 in the second, 0 after."""
    windows = windows_between(W1.start - timedelta(days=3), W1.start)
    aggregates = aggregate(pd.DataFrame(), settings.resources, windows)
    api = aggregates["service"] == "apigateway"
    aggregates.loc[api, "request_count"] = 1000.0
    aggregates.loc[api & (aggregates["window_start"] == pd.Timestamp(windows[0].start)), "errors_5xx"] = 1000.0
    aggregates.loc[api & (aggregates["window_start"] == pd.Timestamp(windows[1].start)), "errors_5xx"] = 5.0
    store = MetricStore(table_name=aws.resources.table_name)
    items = aggregate_items(aggregates, "seed-run", COLLECTED_AT, store.retention_days)
    store.write([*items, *slo_history.updated_blocks(aggregates, {}, "seed-run", store.retention_days)])


def test_three_days_of_history_are_read_as_13_blocks_per_resource_and_give_exact_burn_rates(aws, settings, pipeline):
    seed_three_days(aws, settings)
    aws.put("AWS/ApiGateway", "ApiName", "orders-api", "Count", minute(W1, 1), [1000.0], "Count")
    aws.put("AWS/ApiGateway", "ApiName", "orders-api", "5XXError", minute(W1, 1), [0.0], "Count")
    aws.calls.clear()

    result = run_windows(pipeline, [W1])

    (materialization,) = result.asset_materializations_for_node("slo_burn_rates")
    metadata = {name: value.value for name, value in materialization.metadata.items()}
    # 2026-11-17 12:00 .. 2026-11-20 12:00 for the API and the function: 26 keys in one BatchGetItem, where
    # reading the aggregates would be 1,728 items; no Query but the outbox's.
    assert (metadata["history_blocks"], metadata["history_read_calls"]) == (26, 1)
    assert metadata["history_windows"] == 2 * 864
    assert aws.calls[("dynamodb", "Query")] == 1

    # The ticket's 3 days end with W1: the 863 seeded windows after the first, and W1. The 1,000 errors of the
    # window before are outside it.
    ticket = aws.item("slo#api_availability#ticket#orders-api", "2026-11-20T12:00:00Z")
    assert (ticket["long_bad"], ticket["long_total"]) == (5, 864 * 1000)
    assert float(ticket["long_burn_rate"]) == pytest.approx(5 / 864000 / 0.001)
    assert ticket["state"] == "OK"
    page = aws.item("slo#api_availability#page#orders-api", "2026-11-20T12:00:00Z")
    assert (page["policy"], page["long_bad"], page["long_total"]) == ("page_fast", 0, 12 * 1000)


def test_a_block_that_is_not_72_windows_is_refused_naming_it():
    pk, sk = API_BLOCK
    malformed = {"pk": pk, "sk": sk, "service": "apigateway", "resource": "orders-api", "block_start": sk,
                 "request_count": "[1,2,3]"}  # fmt: skip
    refused = rf"SLO history block {pk}/{sk}: attribute 'request_count' is '\[1,2,3\]'; expected a JSON array of 72"

    with pytest.raises(ValueError, match=refused):
        slo_history.history([malformed], DAY, DAY + timedelta(hours=1))
    with pytest.raises(ValueError, match=refused):
        slo_history.updated_blocks(FIRST_RUN, {API_BLOCK: malformed}, "run-2", retention_days=90)
