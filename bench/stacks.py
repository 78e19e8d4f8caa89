"""The benchmark's data on the emulator: the seed stack over a week, and the 1,000-function estate.

Times are relative to the moment of the benchmark (the handler refuses windows older than CloudWatch keeps),
and the data is published with ``RecentlyActive`` in mind: ListMetrics finds what was published in the last
three hours, which is everything published here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cw_local import estate
from cw_local.emulator import Emulator
from cw_local.fakes import patched_environment
from cw_local.provision import ProvisionedResources, provision
from cw_pipeline import slo_history
from cw_pipeline.slos import longest_window
from cw_pipeline.windows import WINDOW, floor_to_window, settled_windows, windows_between

BASELINE_ENV = "base"  # the yardstick writes to cw-analytics-base-metrics and publishes to its own topic
STEADY_ENV = "steady"  # the estate at steady state: a table that already holds 3 days of SLO history
BACKFILL_DAYS = 7


@dataclass(frozen=True)
class Scenario:
    name: str
    event: dict
    pipeline_env: dict[str, str]
    baseline_env: dict[str, str]
    windows: int

    def event_json(self) -> str:
        return json.dumps(self.event)


def _provision(emulator: Emulator, env: str) -> ProvisionedResources:
    """The table and topic of environment ``env`` on the emulator."""
    # provision() builds plain session clients: the endpoint reaches them through the environment.
    with patched_environment({"AWS_ENDPOINT_URL": emulator.endpoint_url}):
        return provision(emulator.session(), env=env)


def _environments(emulator: Emulator, extra: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    baseline = _provision(emulator, BASELINE_ENV)
    common = {**emulator.environment(), "POWERTOOLS_LOG_LEVEL": "INFO", "DAGSTER_DISABLE_TELEMETRY": "true", **extra}
    pipeline_env = dict(common)
    baseline_env = {**common, "CW_METRICS_TABLE": baseline.table_name, "CW_ALERTS_TOPIC_ARN": baseline.topic_arn}
    return pipeline_env, baseline_env


def seed_stack(emulator: Emulator, now: datetime) -> tuple[Scenario, Scenario]:
    """A week and an hour of the seed stack; (the scheduled run's scenario, the 7-day backfill's)."""
    end = floor_to_window(now) - WINDOW
    start = end - timedelta(days=BACKFILL_DAYS, hours=1)
    stack = estate.Estate.seed_stack()
    incident = (end - timedelta(days=3), end - timedelta(days=3) + timedelta(minutes=15))
    estate.publish(estate.generate(stack, start, end, incident=incident), emulator.client("cloudwatch"))
    pipeline_env, baseline_env = _environments(emulator, {"CW_DISCOVERY": "names", **stack.name_environment()})
    # A scheduled event whose 2 settled windows are the last two published.
    scheduled = {"scheduled_time": _iso(end + timedelta(seconds=120))}
    backfill_end = end - 2 * WINDOW
    backfill = {"backfill": {"start": _iso(backfill_end - timedelta(days=BACKFILL_DAYS)), "end": _iso(backfill_end)}}
    return (
        Scenario("seed stack, scheduled (2 windows)", scheduled, pipeline_env, baseline_env, 2),
        Scenario("seed stack, 7-day backfill", backfill, pipeline_env, baseline_env, BACKFILL_DAYS * 288),
    )


def large_estate(emulator: Emulator, now: datetime, functions: int = 1000, apis: int = 50, databases: int = 20):
    """The estate's last 20 minutes; the scheduled run's scenario, resources found by CW_DISCOVERY=metrics."""
    end = floor_to_window(now) - WINDOW
    fleet = estate.Estate.of_size(functions, apis, databases)
    estate.publish(estate.generate(fleet, end - timedelta(minutes=20), end), emulator.client("cloudwatch"))
    pipeline_env, baseline_env = _environments(emulator, {"CW_DISCOVERY": "metrics"})
    scheduled = {"scheduled_time": _iso(end + timedelta(seconds=120))}
    name = f"estate {functions}/{apis}/{databases}, scheduled (2 windows)"
    return Scenario(name, scheduled, pipeline_env, baseline_env, 2), fleet


def steady_estate(emulator: Emulator, fleet: estate.Estate, scheduled: Scenario) -> tuple[Scenario, int]:
    """The estate's scheduled run on a table of its own that already holds 3 days of SLO history before the
    run's windows (`cw_pipeline.slo_history`), as every run finds it once the pipeline has run for 3 days; and
    the blocks written. The pipeline alone: the baseline reads its history as aggregates, 907,000 of them here,
    more than the emulator can hold."""
    steady = _provision(emulator, STEADY_ENV)
    first = windows_of(scheduled.event)[0]
    history = [first - (index + 1) * WINDOW for index in reversed(range(int(longest_window() / WINDOW)))]
    blocks = slo_history.updated_blocks(
        estate.slo_history_aggregates(fleet, history), {}, run_id="bench-seed", retention_days=90
    )
    table = emulator.session().resource("dynamodb", endpoint_url=emulator.endpoint_url).Table(steady.table_name)
    with table.batch_writer() as batch:
        for block in blocks:
            batch.put_item(Item=block)
    pipeline_env = {
        **scheduled.pipeline_env,
        "CW_METRICS_TABLE": steady.table_name,
        "CW_ALERTS_TOPIC_ARN": steady.topic_arn,
    }
    name = f"{scheduled.name}, 3 days of SLO history stored"
    return Scenario(name, scheduled.event, pipeline_env, {}, scheduled.windows), len(blocks)


def windows_of(event: dict) -> list[datetime]:
    """The window starts an event of these scenarios runs (default settle time and lookback)."""
    if "backfill" in event:
        span = event["backfill"]
        windows = windows_between(datetime.fromisoformat(span["start"]), datetime.fromisoformat(span["end"]))
    else:
        windows = settled_windows(datetime.fromisoformat(event["scheduled_time"]), 120, 1)
    return [window.start for window in windows]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
