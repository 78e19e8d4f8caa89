"""A deliberately simple plain-boto3 aggregator: the yardstick of `make bench`, not a product path.

Same inputs as the pipeline's Lambda (the ``CW_*`` environment; a Scheduler event or a backfill event) and
the same outputs (aggregate, evaluation and burn-rate items in the metrics table, SNS notifications for
transitions), with none of its machinery: no Dagster, no pandas, clients built once per process, one Query per
rule and resource for the stored states. It reads the same catalog, rule and SLO tables, never the pipeline's
code. The burn-rate step is `bench.baseline.slo`.

    python -m bench.baseline.aggregator '{"scheduled_time": "2026-11-20T12:12:00Z"}'
"""

from __future__ import annotations

import json
import math
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
from boto3.dynamodb.conditions import Key

from bench.baseline import notify, slo
from cw_pipeline import naming
from cw_pipeline.catalog import METRICS, RATIOS, SERVICES, WhenMissing
from cw_pipeline.thresholds import RULES, State

WINDOW = timedelta(minutes=5)
cloudwatch = boto3.client("cloudwatch")
sns = boto3.client("sns")
dynamodb = boto3.resource("dynamodb")


def windows_of(event: dict) -> list[datetime]:
    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text).astimezone(UTC)

    def floor(moment: datetime) -> datetime:
        return moment - timedelta(seconds=int(moment.timestamp()) % 300, microseconds=moment.microsecond)

    if "backfill" in event:
        start, end = floor(parse(event["backfill"]["start"])), parse(event["backfill"]["end"])
        return [start + i * WINDOW for i in range(math.ceil((end - start) / WINDOW))]
    settled = floor(parse(event["scheduled_time"]) - timedelta(seconds=int(os.environ.get("CW_SETTLE_SECONDS", 120))))
    lookback = int(os.environ.get("CW_LOOKBACK_WINDOWS", 1))
    return [settled - (i + 1) * WINDOW for i in range(lookback, -1, -1)]


def monitored() -> list[tuple[str, str]]:
    """(service, dimension value) pairs: the name lists, or every resource ListMetrics saw recently."""
    found = []
    for service, spec in SERVICES.items():
        if os.environ.get("CW_DISCOVERY", "names") == "names":
            names = [n for n in os.environ.get(spec.config_variable, "").split(",") if n]
        else:
            names = set()
            for metric in {m.metric_name for m in METRICS if m.service == service}:
                pages = cloudwatch.get_paginator("list_metrics").paginate(
                    Namespace=spec.namespace, MetricName=metric, RecentlyActive="PT3H",
                    Dimensions=[{"Name": spec.dimension_name}])  # fmt: skip
                for page in pages:
                    for found_metric in page["Metrics"]:
                        if len(found_metric["Dimensions"]) == 1:
                            names.add(found_metric["Dimensions"][0]["Value"])
        found += [(service.value, name) for name in sorted(names)]
    return found


def pull(resources: list[tuple[str, str]], windows: list[datetime]) -> dict[tuple, float]:
    """(service, name, attribute, window start) -> value, scaled to the stored unit."""
    queries = [(s, n, m) for s, n in resources for m in METRICS if m.service.value == s]
    values: dict[tuple, float] = {}
    for first in range(0, len(queries), 500):
        batch = queries[first : first + 500]
        requests = [
            {"Id": f"q{i}", "MetricStat": {"Metric": {"Namespace": m.namespace, "MetricName": m.metric_name,
             "Dimensions": [{"Name": m.dimension_name, "Value": n}]}, "Period": 300, "Stat": m.statistic}}
            for i, (s, n, m) in enumerate(batch)
        ]  # fmt: skip
        step = max(1, 100_800 // len(batch)) * WINDOW
        start, end = windows[0], windows[-1] + WINDOW
        while start < end:
            pages = cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=requests, StartTime=start, EndTime=min(start + step, end)
            )
            for page in pages:
                for result in page["MetricDataResults"]:
                    s, n, m = batch[int(result["Id"][1:])]
                    for moment, value in zip(result["Timestamps"], result["Values"], strict=True):
                        values[(s, n, m.attribute, moment.astimezone(UTC))] = value * m.scale
            start += step
    return values


def number(value: float) -> int | Decimal:
    return int(value) if float(value).is_integer() else Decimal(repr(float(value)))


def aggregate(resources, windows, values, run_id: str, now: str, retention_days: int) -> dict[tuple, dict]:
    items = {}
    for service, name in resources:
        for window in windows:
            item = {"pk": naming.aggregate_pk(service, name), "sk": naming.window_sk(window), "service": service,
                    "resource": name, "window_start": naming.window_sk(window),
                    "window_end": naming.window_sk(window + WINDOW), "collected_at": now, "run_id": run_id,
                    "expires_at": int((window + timedelta(days=retention_days)).timestamp())}  # fmt: skip
            for metric in (m for m in METRICS if m.service.value == service):
                value = values.get((service, name, metric.attribute, window))
                if value is None and metric.when_missing is WhenMissing.ZERO:
                    value = 0.0
                if value is not None:
                    item[metric.attribute] = value
            for ratio in (r for r in RATIOS if r.service.value == service):
                parts = [item.get(a) for a in ratio.numerators]
                if None not in parts and item.get(ratio.denominator, 0) > 0:
                    item[ratio.attribute] = ratio.scale * sum(parts) / item[ratio.denominator]
            items[(service, name, window)] = item
    return items


MESSAGE_FIELDS = ("rule_id", "service", "resource", "state", "previous_state", "window_start", "window_end",
                  "value", "threshold")  # fmt: skip


def evaluate(resources, windows, aggregates, table, run_id: str, now: str, retention_days: int) -> tuple[list, int]:
    items, sent = [], 0
    before = naming.window_sk(windows[0] - WINDOW)
    for rule in RULES:
        for service, name in resources:
            if service != rule.service.value:
                continue
            pk = naming.evaluation_pk(rule.rule_id, name)
            stored = {
                i["sk"]: i
                for i in table.query(
                    KeyConditionExpression=Key("pk").eq(pk) & Key("sk").between(before, naming.window_sk(windows[-1])),
                    ConsistentRead=True,
                )["Items"]
            }
            previous = stored[before]["state"] if before in stored else State.INSUFFICIENT_DATA.value
            for window in windows:
                value = aggregates[(service, name, window)].get(rule.attribute)
                item = {"pk": pk, "sk": naming.window_sk(window), "rule_id": rule.rule_id, "service": service,
                        "resource": name, "metric": rule.attribute, "threshold": rule.threshold,
                        "state": rule.evaluate(value).value, "previous_state": previous,
                        "window_start": naming.window_sk(window), "window_end": naming.window_sk(window + WINDOW),
                        "evaluated_at": now, "run_id": run_id,
                        "expires_at": int((window + timedelta(days=retention_days)).timestamp())}  # fmt: skip
                if value is not None:
                    item["value"] = value
                message = {field: item.get(field) for field in MESSAGE_FIELDS}
                what = f"{rule.rule_id} on {name}"
                trail, published = notify.notify(sns, item, message, what, stored.get(item["sk"], {}))
                items.append({**item, **trail})
                sent += published
                previous = item["state"]
    return items, sent


def write(table, items: list[dict]) -> None:
    with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
        for item in items:
            batch.put_item(Item={k: number(v) if isinstance(v, float) else v for k, v in item.items()})


def run(event: dict) -> dict:
    windows = windows_of(event)
    run_id, now = str(uuid.uuid4()), naming.window_sk(datetime.now(UTC).replace(microsecond=0))
    retention_days = int(os.environ.get("CW_RETENTION_DAYS", 90))
    table = dynamodb.Table(os.environ["CW_METRICS_TABLE"])
    resources = monitored()
    aggregates = aggregate(resources, windows, pull(resources, windows), run_id, now, retention_days)
    evaluations, sent = evaluate(resources, windows, aggregates, table, run_id, now, retention_days)
    write(table, [*aggregates.values(), *evaluations])
    # Burn rates read the history back from the table, the windows just written included.
    burn_rates, slo_sent = slo.evaluate_slos(
        resources, windows, table, sns, {"run_id": run_id, "now": now, "retention_days": retention_days}
    )
    write(table, burn_rates)
    return {"windows": len(windows), "aggregates_written": len(aggregates),
            "evaluations_written": len(evaluations), "burn_rate_evaluations_written": len(burn_rates),
            "notifications_sent": sent + slo_sent}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
