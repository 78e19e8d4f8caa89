"""The world of the fault-injection tests: the emulator over HTTP, a known workload, the pipeline, and
faults registered on botocore's event system (see README.md in this folder for why these hooks).

A module with a name of its own, not ``conftest``: ``from conftest import ...`` picks whichever conftest
pytest loaded last when several test folders run together.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import boto3
import requests
from botocore import handlers
from botocore.awsrequest import AWSResponse
from dagster import DagsterInstance

from cw_local.emulator import Emulator
from cw_local.provision import provision, read_notifications
from cw_pipeline.config import Settings
from cw_pipeline.definitions import build_definitions
from cw_pipeline.defs import aws_clients
from cw_pipeline.defs.jobs import JOB_NAME
from cw_pipeline.defs.partitions import range_tags
from cw_pipeline.windows import Window

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
CLOCK = datetime(2026, 11, 20, 13, 30, 7, tzinfo=UTC)
# A run that finds the lease of a crashed run must come after it expires (LEASE_SECONDS = 360).
AFTER_LEASE_EXPIRY = CLOCK + timedelta(minutes=7)
W1, W2, W3 = (Window(datetime(2026, 11, 20, 12, m, tzinfo=UTC)) for m in (0, 5, 10))
ALL = [W1, W2, W3]
API, FUNCTION, DB = "orders-api", "orders-handler", "orders-db"
PROVENANCE = ("run_id", "collected_at", "evaluated_at")  # which run wrote an item, and when

# The transitions of the workload below, worked out by hand from its datapoints (rule, window, state).
EXPECTED_NOTIFICATIONS = sorted(
    [
        ("api_error_rate", "2026-11-20T12:00:00Z", "ALARM"),  # 3 errors / 30 requests = 10 % > 5 %
        ("api_error_rate", "2026-11-20T12:05:00Z", "OK"),  # 1 / 100 = 1 %
        ("api_error_rate", "2026-11-20T12:10:00Z", "ALARM"),  # 5 / 50 = 10 %
        ("lambda_errors", "2026-11-20T12:00:00Z", "ALARM"),  # 12 errors > 10
        ("lambda_errors", "2026-11-20T12:05:00Z", "OK"),  # 0 errors
        ("lambda_duration_avg", "2026-11-20T12:00:00Z", "ALARM"),  # mean(1000, 4000, 5000) = 3333 ms > 3000
        ("lambda_duration_avg", "2026-11-20T12:05:00Z", "OK"),  # 100 ms
        ("rds_connections_max", "2026-11-20T12:00:00Z", "ALARM"),  # max 120 > 100
        ("rds_connections_max", "2026-11-20T12:05:00Z", "OK"),  # max 80
        # SLO burn rates (budget 0.001 at 99.9 %). W1 alone: 2 5XX / 30 requests burn 66.7 and 12 errors / 30
        # invocations burn 400, over both windows of every row: page and ticket fire. They stay in ALARM: in W2
        # and W3 the 5-minute windows burn 10 and 0 (API), 0 (Lambda), under 14.4, but the 6 h / 30 min row
        # still burns 23.1 and 16.7 (API), 300 and 240 (Lambda), over 6; the ticket's burns stay over 1.
        # The latency SLO's p95s (200, 50, 80 ms) are all good: OK, never notified.
        ("api_availability_page", "2026-11-20T12:00:00Z", "ALARM"),
        ("api_availability_ticket", "2026-11-20T12:00:00Z", "ALARM"),
        ("lambda_success_page", "2026-11-20T12:00:00Z", "ALARM"),
        ("lambda_success_ticket", "2026-11-20T12:00:00Z", "ALARM"),
    ]
)
# What the threshold rules alone send (a run whose threshold step fails never reaches the SLOs' step).
THRESHOLD_NOTIFICATIONS = [n for n in EXPECTED_NOTIFICATIONS if not n[0].endswith(("_page", "_ticket"))]
# Per window: 3 aggregates, 6 threshold evaluations, 6 burn-rate evaluations (3 SLOs x page, ticket); 3 windows.
# The SLO history: the 3 windows are in one six-hour block for the API and one for the function.
ITEMS = (3 + 6 + 6) * 3 + 2


def minute(window: Window, offset: int) -> datetime:
    return window.start + timedelta(minutes=offset)


def publish_workload(cloudwatch) -> None:
    """The datapoints behind EXPECTED_NOTIFICATIONS (W3 has API traffic only, W3 Lambda has no duration)."""

    def put(namespace, dimension, name, metric, when, values):
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {"MetricName": metric, "Dimensions": [{"Name": dimension, "Value": name}], "Timestamp": when,
                 "Values": values}
            ],
        )  # fmt: skip

    api = lambda metric, when, values: put("AWS/ApiGateway", "ApiName", API, metric, when, values)  # noqa: E731
    fn = lambda metric, when, values: put("AWS/Lambda", "FunctionName", FUNCTION, metric, when, values)  # noqa: E731
    db = lambda metric, when, values: put("AWS/RDS", "DBInstanceIdentifier", DB, metric, when, values)  # noqa: E731
    api("Count", minute(W1, 1), [30.0])
    api("4XXError", minute(W1, 1), [1.0])
    api("5XXError", minute(W1, 2), [2.0])
    api("Latency", minute(W1, 1), [100.0, 200.0])
    api("Count", minute(W2, 1), [100.0])
    api("5XXError", minute(W2, 2), [1.0])
    api("Latency", minute(W2, 1), [50.0])
    api("Count", minute(W3, 1), [50.0])
    api("4XXError", minute(W3, 1), [5.0])
    api("Latency", minute(W3, 1), [80.0])
    fn("Invocations", minute(W1, 0), [30.0])
    fn("Errors", minute(W1, 1), [12.0])
    fn("Duration", minute(W1, 2), [1000.0, 4000.0, 5000.0])
    fn("Invocations", minute(W2, 1), [10.0])
    fn("Duration", minute(W2, 1), [100.0])
    fn("Invocations", minute(W3, 1), [10.0])
    db("CPUUtilization", minute(W1, 0), [50.0, 90.0])
    db("DatabaseConnections", minute(W1, 0), [120.0, 80.0])
    db("CPUUtilization", minute(W2, 0), [40.0])
    db("DatabaseConnections", minute(W2, 0), [80.0])


# --- faults at the AWS boundary ------------------------------------------------------------------------


@contextlib.contextmanager
def faults(*hooks: tuple[str, Callable]) -> Iterator[None]:
    """Register ``(event, handler)`` pairs on every botocore session created inside the block.

    botocore registers `botocore.handlers.BUILTIN_HANDLERS` on each new session (moto's in-process mock
    hooks in the same way). The pipeline shares its sessions and clients across runs of a process
    (`aws_clients`), so the shared ones are dropped on entry and on exit: the block's runs build clients
    that carry the hooks, and later runs build clean ones. Nothing in the project is replaced.
    """
    specs = [(event, hook, handlers.REGISTER_FIRST) for event, hook in hooks]
    handlers.BUILTIN_HANDLERS.extend(specs)
    aws_clients.forget()
    try:
        yield
    finally:
        for spec in specs:
            handlers.BUILTIN_HANDLERS.remove(spec)
        aws_clients.forget()


class _Body(io.BytesIO):
    def stream(self, **_kwargs):
        yield self.getvalue()


def http_response(request, status: int, body: str, headers: dict | None = None) -> AWSResponse:
    """An HTTP answer to ``request`` that never reached the emulator (a ``before-send`` return value)."""
    return AWSResponse(request.url, status, headers or {}, _Body(body.encode()))


def throttled(request, service: str) -> AWSResponse:
    """The answer each service gives a throttled caller, in its own protocol."""
    if service == "sns":  # query protocol: XML
        body = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
            "<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
        return http_response(request, 400, body, {"content-type": "text/xml"})
    code = "ThrottlingException" if service == "dynamodb" else "Throttling"
    return http_response(request, 400, json.dumps({"__type": code, "message": "Rate exceeded"}))


def server_error(request, service: str) -> AWSResponse:
    if service == "sns":
        body = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type>'
            "<Code>InternalError</Code><Message>try again</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
        return http_response(request, 500, body, {"content-type": "text/xml"})
    return http_response(request, 500, json.dumps({"__type": "InternalServerError", "message": "try again"}))


@dataclass
class Counter:
    """Counts the calls a hook sees; ``when`` decides from the count (from 1) whether to misbehave."""

    when: Callable[[int], bool]
    seen: int = 0
    hits: int = 0

    def __call__(self) -> bool:
        self.seen += 1
        hit = self.when(self.seen)
        self.hits += hit
        return hit


# --- the world a test runs in ----------------------------------------------------------------------------


def point_at(emulator: Emulator, monkeypatch) -> None:
    """Point unchanged pipeline code at ``emulator`` through the standard AWS variables."""
    for name, value in emulator.environment().items():
        monkeypatch.setenv(name, value)


@dataclass
class World:
    emulator: Emulator
    work_dir: Path
    session: boto3.Session = field(init=False)
    settings: Settings = field(init=False)

    def __post_init__(self) -> None:
        self.session = boto3.Session(region_name=self.emulator.region)
        self.settings = Settings.from_env(
            {
                "CW_ENV": "dev",
                "CW_METRICS_TABLE": self.emulator.resources.table_name,
                "CW_ALERTS_TOPIC_ARN": self.emulator.resources.topic_arn,
                "CW_API_NAMES": API,
                "CW_FUNCTION_NAMES": FUNCTION,
                "CW_DB_INSTANCE_IDS": DB,
            }
        )

    def reset(self, workload: bool = True) -> None:
        """Empty every service of the emulator, provision it again and publish the workload."""
        requests.post(f"{self.emulator.endpoint_url}/moto-api/reset", timeout=30).raise_for_status()
        provision(self.session)
        if workload:
            publish_workload(self.session.client("cloudwatch"))

    def run(self, windows: list[Window] = ALL, clock: datetime = CLOCK):
        """One pipeline run over ``windows`` as one range (a single-run backfill); failures are returned."""
        defs = build_definitions(self.settings, NOW, work_dir=str(self.work_dir / "frames"), fixed_clock=clock)
        return defs.resolve_job_def(JOB_NAME).execute_in_process(
            tags=range_tags(windows), instance=DagsterInstance.ephemeral(), raise_on_error=False
        )

    def items(self) -> dict[tuple[str, str], dict]:
        """Every item, keyed by (pk, sk), without provenance; numbers as floats."""
        table = self.session.resource("dynamodb").Table(self.emulator.resources.table_name)
        items, request = [], {}
        while True:
            page = table.scan(ConsistentRead=True, **request)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return {
            (i["pk"], i["sk"]): {
                k: float(v) if isinstance(v, Decimal) else v for k, v in i.items() if k not in PROVENANCE
            }
            for i in items
        }

    def notifications(self) -> list[dict]:
        return read_notifications(self.session, self.emulator.resources.inbox_queue_url)


def sent(notifications: list[dict]) -> list[tuple[str, str, str]]:
    """(rule, window, state) of each message, sorted: what a subscriber was told."""
    return sorted((n["message"]["rule_id"], n["message"]["window_start"], n["message"]["state"]) for n in notifications)


def ids(notifications: list[dict]) -> list[str]:
    return [n["attributes"]["notification_id"] for n in notifications]


def failure(result) -> str:
    """The failing step's own error message (Dagster's wrappers peeled off)."""
    messages = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error.cause is not None and error.cls_name.startswith("Dagster"):
            error = error.cause
        messages.append(f"{event.step_key}: {error.message.strip()}")
    return "; ".join(messages)


class MetricAnswers:
    """Rewrites GetMetricData answers the way CloudWatch can give them, as the pipeline receives them.

    ``before-parameter-build`` stashes the call's queries in botocore's per-call context, and
    ``after-call`` hands each (query, result) pair of the parsed answer to ``change``, which edits the
    result in place or returns ``"drop"`` to remove it from the answer.
    """

    def __init__(self, change: Callable[[dict, dict], str | None]):
        self.change = change
        self.changed = 0

    @staticmethod
    def remember(params, context, **_kwargs) -> None:
        context["queries"] = {q["Id"]: q for q in params["MetricDataQueries"]}
        context["next_token"] = params.get("NextToken")

    def rewrite(self, parsed, context, **_kwargs) -> None:
        kept = []
        for result in parsed.get("MetricDataResults", []):
            outcome = self.change(context["queries"][result["Id"]], result)
            self.changed += outcome is not None or result.get("StatusCode") != "Complete"
            if outcome != "drop":
                kept.append(result)
        parsed["MetricDataResults"] = kept

    @property
    def hooks(self) -> tuple[tuple[str, Callable], ...]:
        return (
            ("before-parameter-build.cloudwatch.GetMetricData", self.remember),
            ("after-call.cloudwatch.GetMetricData", self.rewrite),
        )


def metric(query: dict) -> tuple[str, str]:
    """(metric name, statistic) of a GetMetricData query."""
    return query["MetricStat"]["Metric"]["MetricName"], query["MetricStat"]["Stat"]


def converge(world: World, baseline: dict, before: list[dict], clock: datetime = CLOCK) -> list[dict]:
    """Run again without faults; assert the table is the fault-free one; return every message sent."""
    result = world.run(ALL, clock=clock)
    assert result.success, failure(result)
    assert world.items() == baseline["items"]
    return before + world.notifications()


CHILD = Path(__file__).with_name("aggregator_child.py")
BACKFILL_ALL = {"backfill": {"start": "2026-11-20T12:00:00Z", "end": "2026-11-20T12:15:00Z"}}


def start_child(world: World, *kill_at: str | int) -> subprocess.Popen:
    """The aggregator handler over W1..W3 in a process of its own (see aggregator_child.py)."""
    environment = {
        **os.environ,
        **world.emulator.environment(),
        **world.settings.as_environment(),
        "POWERTOOLS_SERVICE_NAME": "cw-analytics-dev-aggregator",
        "DAGSTER_HOME": str(world.work_dir / f"dagster_home_{uuid.uuid4().hex[:6]}"),
    }
    command = [sys.executable, str(CHILD), json.dumps(BACKFILL_ALL), *map(str, kill_at)]
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def after_lease_expiry() -> datetime:
    """A pipeline clock at which a lease taken now by a real-clock process (a killed child) has expired."""
    return datetime.now(UTC) + timedelta(minutes=7)
