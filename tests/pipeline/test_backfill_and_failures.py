"""Backfills as one run, API call counts, and what bad input and failing calls do."""

from __future__ import annotations

import math
from datetime import timedelta

import botocore.client
import pytest
from botocore.exceptions import ClientError
from dagster import AssetKey, DagsterInstance, Definitions, build_schedule_context
from pipeline_support import NOW, W1, minute, run_windows

from cw_local.provision import provision
from cw_pipeline.catalog import Service
from cw_pipeline.cloudwatch import build_queries, fetch, time_slices
from cw_pipeline.config import MonitoredResource, Settings
from cw_pipeline.definitions import build_definitions
from cw_pipeline.defs.partitions import range_tags
from cw_pipeline.windows import WINDOW, Window

TWELVE = [Window(W1.start + i * WINDOW) for i in range(12)]


def test_a_12_window_backfill_is_one_run_with_counted_calls(aws, pipeline):
    for window in TWELVE:
        aws.session.client("cloudwatch").put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Dimensions": [{"Name": "FunctionName", "Value": "orders-handler"}],
                    "Timestamp": minute(window, 2),
                    "Value": 5.0,
                }
            ],
        )
    aws.calls.clear()
    instance = DagsterInstance.ephemeral()
    run_windows(pipeline, TWELVE, instance)

    assert len(instance.get_runs()) == 1
    queries = 8 + 8 + 11  # catalog rows for one API, one function, one database
    assert aws.calls[("cloudwatch", "GetMetricData")] == math.ceil(queries / 500) * math.ceil(queries * 12 / 100800)
    # 6 rules; 3 SLOs x 2 severities, each on its service's one resource; the SLO history: the 12 windows
    # (12:00-12:55) are in one six-hour block for each SLO resource (the API, the function), written with the
    # aggregates.
    aggregate_items, history_blocks, evaluation_items, burn_rate_items = 3 * 12, 2, 6 * 12, 6 * 12
    assert aws.calls[("dynamodb", "BatchWriteItem")] == (
        math.ceil((aggregate_items + history_blocks) / 25)
        + math.ceil(evaluation_items / 25)
        + math.ceil(burn_rate_items / 25)
    )
    # Stored states: 6 (rule, resource) pairs x (12 windows + the one before) = 78 keys, under 100 per partition,
    # so one BatchGetItem of 100 keys reads them all instead of one Query per pair; the same for the 6 (SLO,
    # severity, resource) burn-rate evaluations' 78 keys. The SLO history: the 2 blocks the aggregates step
    # rewrites, then the 13 blocks of 3 days for each SLO resource (26 keys) that the SLO step reads.
    assert aws.calls[("dynamodb", "BatchGetItem")] == 1 + math.ceil(6 * 13 / 100) + 1 + math.ceil(6 * 13 / 100)
    # Only the outbox partition: no aggregate is read back.
    assert aws.calls[("dynamodb", "Query")] == 1
    stored = [i for i in aws.items() if i["pk"] == "lambda#orders-handler"]
    assert sorted(i["sk"] for i in stored) == [f"2026-11-20T{12 + i // 12}:{(i * 5) % 60:02d}:00Z" for i in range(12)]
    assert all(i["invocations"] == 5 for i in stored)

    newest = TWELVE[-1].partition_key
    for asset in ("cloudwatch_datapoints", "metric_aggregates", "alert_evaluations", "slo_burn_rates"):
        assert instance.get_materialized_partitions(AssetKey(asset)) == {w.partition_key for w in TWELVE}
        # Every window's materialization has the run's figures; the previews and lists only the newest one's,
        # which is the asset's latest materialization.
        records = instance.fetch_materializations(AssetKey(asset), limit=100).records
        by_window = {r.partition_key: r.asset_materialization.metadata for r in records}
        assert len(records) == len(by_window) == 12
        for window, metadata in by_window.items():
            assert metadata["windows"].value == 12 and metadata["last_window"].value == newest
            assert ("preview" in metadata) == (window == newest), (asset, window)
        assert instance.get_latest_materialization_event(AssetKey(asset)).dagster_event.partition == newest
    aggregates = {
        r.partition_key: r.asset_materialization.metadata
        for r in instance.fetch_materializations(AssetKey("metric_aggregates"), limit=100).records
    }
    assert {metadata["items_written"].value for metadata in aggregates.values()} == {aggregate_items}
    datapoints = instance.get_latest_materialization_event(AssetKey("cloudwatch_datapoints")).asset_materialization
    assert datapoints.metadata["resources_per_service"].value == {"apigateway": 1, "lambda": 1, "rds": 1}


def test_queries_are_batched_500_a_call(aws):
    """1,000 functions x 8 Lambda statistics = 8,000 queries: 16 calls for a few windows."""
    resources = [MonitoredResource(Service.LAMBDA, f"fn-{i}") for i in range(1000)]
    queries = build_queries(resources)
    assert len(queries) == 8000 and len({q.id for q in queries}) == 8000
    aws.calls.clear()
    result = fetch(aws.session.client("cloudwatch"), queries, W1.start, W1.start + 3 * WINDOW)
    assert result.calls == aws.calls[("cloudwatch", "GetMetricData")] == 16
    assert result.datapoints.empty


def test_time_is_sliced_so_no_call_exceeds_100800_datapoints():
    start = W1.start
    slices = list(time_slices(start, start + 300 * WINDOW, 500))  # 150,000 datapoints
    per_call = 100800 // 500  # 201 windows
    assert slices == [(start, start + per_call * WINDOW), (start + per_call * WINDOW, start + 300 * WINDOW)]


def test_an_unknown_resource_gives_zero_counts_absent_values_and_a_warning(aws, tmp_path):
    settings = Settings.from_env(
        {"CW_METRICS_TABLE": aws.resources.table_name, "CW_FUNCTION_NAMES": "no-such-function", "CW_API_NAMES": ""}
    )
    defs = build_definitions(settings, NOW, work_dir=str(tmp_path))
    instance = DagsterInstance.ephemeral()
    result = run_windows(defs, [W1], instance)

    assert result.success
    item = aws.item("lambda#no-such-function", "2026-11-20T12:00:00Z")
    assert (item["invocations"], item["errors"], item["throttles"]) == (0, 0, 0)
    assert "duration_avg_ms" not in item and "error_rate_pct" not in item and "concurrent_executions_max" not in item
    warnings = [
        e.message for e in instance.all_logs(result.run_id) if e.level >= 30 and "no-such-function" in (e.message or "")
    ]
    assert warnings and "CW_FUNCTION_NAMES" in warnings[0]
    evaluation = aws.item("alert#lambda_errors#no-such-function", "2026-11-20T12:00:00Z")
    assert evaluation["state"] == "OK" and evaluation["value"] == 0  # zero errors is a value, not missing data


def failing(operation: str, monkeypatch):
    """AWS answers ``operation`` with an InternalFailure, as it does during an outage."""
    original = botocore.client.BaseClient._make_api_call

    def call(client, name, params):
        if name == operation:
            raise ClientError({"Error": {"Code": "InternalFailure", "Message": "service unavailable"}}, name)
        return original(client, name, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    return original


def test_a_cloudwatch_error_fails_the_run_naming_the_call_and_a_rerun_completes(aws, pipeline, monkeypatch):
    original = failing("GetMetricData", monkeypatch)
    with pytest.raises(Exception, match=r"CloudWatch GetMetricData on 27 queries .* InternalFailure"):
        run_windows(pipeline, [W1])
    assert aws.items() == []  # nothing half-written

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", original)
    assert run_windows(pipeline, [W1]).success
    # aggregates, SLO history blocks (the API's, the function's), threshold evaluations, burn-rate evaluations
    assert len(aws.items()) == 3 + 2 + 6 + 6


def test_a_dynamodb_error_fails_the_run_naming_the_call_and_a_rerun_completes(aws, pipeline):
    dynamodb = aws.session.client("dynamodb")
    dynamodb.delete_table(TableName=aws.resources.table_name)
    # The first DynamoDB call of a run is taking the run lease, before any CloudWatch call.
    with pytest.raises(
        Exception, match=r"DynamoDB PutItem \(run lease\) on table cw-analytics-dev-metrics .*ResourceNotFound"
    ):
        run_windows(pipeline, [W1])

    provision(aws.session)
    assert run_windows(pipeline, [W1]).success
    # aggregates, SLO history blocks (the API's, the function's), threshold evaluations, burn-rate evaluations
    assert len(aws.items()) == 3 + 2 + 6 + 6


def test_a_run_of_some_assets_releases_the_lease_after_its_own_last_step(aws, pipeline):
    """A run of the first two assets (a subset materialized from the UI) releases the run lease when its
    last selected step ends, not only after ``slo_burn_rates``, which it never runs."""
    selection = [AssetKey("cloudwatch_datapoints"), AssetKey("metric_aggregates")]
    result = pipeline.resolve_job_def("cw_metrics_job").execute_in_process(
        asset_selection=selection, tags=range_tags([W1]), instance=DagsterInstance.ephemeral()
    )
    assert result.success
    assert aws.calls[("dynamodb", "PutItem")] == 2  # taken by the first step, renewed by the second
    assert aws.calls[("dynamodb", "DeleteItem")] == 1
    assert aws.item("lease", "pipeline-run") is None
    assert len(aws.items()) == 3 + 2  # aggregates and SLO history blocks, no evaluation


def test_the_code_location_loads_and_its_partitions_are_bounded():
    defs = build_definitions(Settings.from_env({}), NOW)
    Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("cw_metrics_job")
    keys = job.partitions_def.get_partition_keys(current_time=NOW)
    assert keys[0] == "2026-09-19-00:00"  # first midnight after NOW - 63 days (2026-09-18 14:00)
    assert keys[-1] == "2026-11-20-13:55"  # the last window that has ended at NOW
    assert len(keys) == 62 * 288 + 14 * 12  # whole days 2026-09-19 .. 2026-11-19, then 00:00 .. 13:55


def test_the_schedule_asks_for_the_settled_windows_as_one_range(tmp_path):
    settings = Settings.from_env({"CW_SETTLE_SECONDS": "120", "CW_LOOKBACK_WINDOWS": "1"})
    defs = build_definitions(settings, NOW)
    schedule = defs.resolve_schedule_def("cw_metrics_every_5_minutes")
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(instance=instance, scheduled_execution_time=NOW + timedelta(minutes=5))
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-20-13:50"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-20-13:55"
