"""The demo: the whole system on the local AWS emulator, through the production entry point.

Run ``python -m cw_local.demo [--hours 3] [--seed 7] [--incident-minutes 20] [--out .demo]``
(``make demo``). It reads the clock once, then:

1. starts the emulator (`cw_local.emulator`, a subprocess on a free port) and points this
   process at it through the environment, as a Lambda is configured;
2. generates the last ``--hours`` of CloudWatch datapoints for the stack with a database incident in the
   middle (`cw_local.workload`) and publishes them with PutMetricData;
3. invokes the aggregator Lambda's handler (`cw_pipeline.lambda_handler.handler`) twice, as AWS would:
   one manual backfill event over every generated window but the newest, then the EventBridge Scheduler
   event whose newest settled window is the newest generated one;
4. reads back what the pipeline wrote (DynamoDB aggregates and evaluations) and sent (the SNS
   notifications, from the SQS queue subscribed to the alerts topic), prints a report and writes
   ``<out>/chart.png``;
5. stops the emulator, whatever happened.

API calls are counted by wrapping botocore's ``BaseClient._make_api_call`` in this process: every call the
handler's boto3 clients make (GetMetricData, BatchWriteItem, Query, Publish) and the workload's PutMetricData.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cw_local.emulator import Emulator, running_emulator
from cw_local.provision import read_notifications
from cw_local.workload import Incident, Resources, Workload, generate, publish
from cw_pipeline import naming
from cw_pipeline.catalog import Service
from cw_pipeline.config import Settings
from cw_pipeline.thresholds import RULES, State, rule
from cw_pipeline.windows import WINDOW, Window, floor_to_window, windows_between

DEFAULT_HOURS = 3.0
DEFAULT_SEED = 7
DEFAULT_INCIDENT_MINUTES = 20
DEFAULT_OUT = ".demo"
LAMBDA_SERVICE_NAME = "cw-analytics-dev-aggregator"
AROUND_INCIDENT = timedelta(minutes=15)  # aggregates shown before and after the incident
# What this process must not inherit when it points itself at the emulator.
_CLEARED_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "CW_DAGSTER_PG_URL", "CW_DAGSTER_PG_SECRET_ARN")


# --- progress and API-call counting ---------------------------------------------------------------------


class Progress:
    """One line per completed step, with the seconds elapsed since the demo started."""

    def __init__(self, stream=None, clock: Callable[[], float] = time.perf_counter) -> None:
        self.stream = stream or sys.stdout
        self.clock = clock
        self.started = clock()

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def __call__(self, message: str) -> None:
        print(f"[{self.elapsed:5.1f}s] {message}", file=self.stream, flush=True)


@contextlib.contextmanager
def counting_api_calls() -> Iterator[Counter]:
    """Count every AWS API call made in this process, as ``"Service.Operation"`` (botocore's own names)."""
    from botocore.client import BaseClient

    calls: Counter = Counter()
    original = BaseClient._make_api_call

    def counted(client, operation_name, api_params):
        calls[f"{client.meta.service_model.service_id}.{operation_name}"] += 1
        return original(client, operation_name, api_params)

    BaseClient._make_api_call = counted
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original


@contextlib.contextmanager
def patched_environment(values: Mapping[str, str], cleared: Sequence[str] = ()) -> Iterator[None]:
    """Set ``values`` (and unset ``cleared``) in os.environ for the block; restored afterwards."""
    saved = {name: os.environ.get(name) for name in (*values, *cleared)}
    try:
        for name in cleared:
            os.environ.pop(name, None)
        os.environ.update(values)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class FakeLambdaContext:
    """The attributes of a Lambda context object that the handler's logger reads."""

    function_name: str = LAMBDA_SERVICE_NAME
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1536
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:000000000000:function:{LAMBDA_SERVICE_NAME}"
    aws_request_id: str = "local-demo"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


# --- the plan: which hours, which incident, which events --------------------------------------------------


@dataclass(frozen=True)
class Plan:
    start: datetime
    end: datetime  # the end of the newest generated window: the newest settled window at ``now``
    now: datetime
    incident: Incident

    @property
    def windows(self) -> list[Window]:
        return windows_between(self.start, self.end)

    def backfill_event(self) -> dict:
        """Every generated window but the newest, in one manual backfill."""
        return {"backfill": {"start": _iso(self.start), "end": _iso(self.end - WINDOW)}}

    def scheduled_event(self) -> dict:
        """The EventBridge Scheduler input at ``now``: its newest settled window is the newest generated one."""
        return {"scheduled_time": _iso(self.now)}


def make_plan(now: datetime, hours: float, incident_minutes: int, settle_seconds: int) -> Plan:
    """The last ``hours`` of windows that have settled at ``now``, an incident in the middle on a window mark."""
    end = floor_to_window(now - timedelta(seconds=settle_seconds))
    start = floor_to_window(end - timedelta(hours=hours))
    if end - start < 4 * WINDOW:
        raise SystemExit("--hours must cover at least 20 minutes")
    middle = floor_to_window(start + (end - start) / 2 - timedelta(minutes=incident_minutes) / 2)
    return Plan(start, end, now, Incident(middle, timedelta(minutes=incident_minutes)))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- reading back what the pipeline wrote ---------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def scan_table(session, table_name: str) -> list[dict]:
    """Every item of the metrics table, DynamoDB numbers as floats."""
    table = session.resource("dynamodb").Table(table_name)
    items, request = [], {}
    while True:
        page = table.scan(ConsistentRead=True, **request)
        items.extend({key: _plain(value) for key, value in item.items()} for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class Stored:
    aggregates: dict[tuple[str, str], dict]  # (service, window_start) -> item
    evaluations: list[dict]  # sorted by window, rule

    @classmethod
    def from_items(cls, items: list[dict]) -> Stored:
        aggregates = {(i["service"], i["window_start"]): i for i in items if not i["pk"].startswith("alert#")}
        evaluations = sorted(
            (i for i in items if i["pk"].startswith("alert#")), key=lambda i: (i["window_start"], i["rule_id"])
        )
        return cls(aggregates, evaluations)

    def transitions(self) -> list[dict]:
        return [e for e in self.evaluations if e["state"] != e["previous_state"]]

    def alarm_windows(self, rule_id: str) -> list[datetime]:
        return [
            naming.parse_window_sk(e["window_start"])
            for e in self.evaluations
            if e["rule_id"] == rule_id and e["state"] == State.ALARM.value
        ]


# --- the report ------------------------------------------------------------------------------------------


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, numbers right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) or row[i] is None for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        cells = (v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))
        return "  ".join(cells).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e9:
            return f"{int(value)}"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def _hhmm(window_start: str) -> str:
    return naming.parse_window_sk(window_start).strftime("%H:%M")


# Per service: (column header, aggregate attribute) shown around the incident.
AGGREGATE_COLUMNS: dict[Service, tuple[tuple[str, str], ...]] = {
    Service.APIGATEWAY: (
        ("requests", "request_count"),
        ("4xx", "errors_4xx"),
        ("5xx", "errors_5xx"),
        ("err %", "error_rate_pct"),
        ("lat avg ms", "latency_avg_ms"),
        ("p95 ms", "latency_p95_ms"),
        ("p99 ms", "latency_p99_ms"),
    ),
    Service.LAMBDA: (
        ("invocations", "invocations"),
        ("errors", "errors"),
        ("throttles", "throttles"),
        ("dur avg ms", "duration_avg_ms"),
        ("dur p95 ms", "duration_p95_ms"),
        ("concurrency max", "concurrent_executions_max"),
    ),
    Service.RDS: (
        ("cpu avg %", "cpu_avg_pct"),
        ("conn avg", "connections_avg"),
        ("conn max", "connections_max"),
        ("read lat ms", "read_latency_avg_ms"),
        ("write lat ms", "write_latency_avg_ms"),
    ),
}


@dataclass
class DemoResult:
    plan: Plan
    emulator_endpoint: str
    resources: Resources
    summaries: list[dict]  # the handler's return values, backfill then scheduled
    api_calls: list[Counter]  # per handler invocation
    publish_calls: Counter
    stored: Stored
    notifications: list[dict]
    chart: Path | None
    timings: dict[str, float] = field(default_factory=dict)


def render_report(result: DemoResult) -> str:
    plan, stored = result.plan, result.stored
    out: list[str] = []
    add = out.append
    add("")
    add("=" * 100)
    add("cw-analytics demo report")
    add("=" * 100)
    add(
        f"workload  {_iso(plan.start)} .. {_iso(plan.end)}  ({len(plan.windows)} windows of 5 minutes, "
        f"one datapoint a minute per metric)"
    )
    add(
        f"incident  {_iso(plan.incident.start)} .. {_iso(plan.incident.end)}  (database saturation: Lambda ~4 s, "
        "~15 % 5XX, CPU ~90 %, ~130 connections)"
    )
    add(
        f"resources api {result.resources.api_name}, function {result.resources.function_name}, "
        f"database {result.resources.db_instance_id}"
    )
    add(f"emulator  {result.emulator_endpoint} (moto + percentiles; stopped at the end)")

    add("")
    add("Lambda invocations (cw_pipeline.lambda_handler.handler; each is one Dagster run over its windows)")
    rows = []
    for summary in result.summaries:
        windows = summary["windows"]
        rows.append(
            [
                summary["trigger"],
                len(windows),
                f"{windows[0]} .. {windows[-1]}",
                summary["aggregates_written"],
                summary["evaluations_written"],
                summary["notifications_sent"],
                summary["duration_ms"],
                summary["run_id"][:8],
            ]
        )
    add(
        text_table(
            ["event", "windows", "range", "aggregates", "evaluations", "notifications", "run ms", "run id"], rows
        )
    )

    add("")
    add("AWS API calls (counted by wrapping botocore's BaseClient._make_api_call in this process)")
    operations = sorted({op for counter in result.api_calls for op in counter})
    rows = [[op, *(counter.get(op, 0) for counter in result.api_calls)] for op in operations]
    rows.append(["total", *(sum(counter.values()) for counter in result.api_calls)])
    add(text_table(["operation", *(s["trigger"] for s in result.summaries)], rows))
    add(
        f"(publishing the workload beforehand: {result.publish_calls.get('CloudWatch.PutMetricData', 0)} "
        "PutMetricData calls)"
    )

    first = _iso(plan.incident.start - AROUND_INCIDENT)
    last = _iso(plan.incident.end + AROUND_INCIDENT)
    alarm_rules = {
        (e["window_start"], rule(e["rule_id"]).service.value)
        for e in stored.evaluations
        if e["state"] == State.ALARM.value
    }
    for service, columns in AGGREGATE_COLUMNS.items():
        resource = result.resources.name_for(service)
        add("")
        add(f"Aggregates around the incident: {service.value}#{resource} (DynamoDB; * = a rule in ALARM)")
        rows = []
        for (item_service, window_start), item in sorted(stored.aggregates.items()):
            if item_service != service.value or not first <= window_start < last:
                continue
            mark = "*" if (window_start, service.value) in alarm_rules else ""
            rows.append([_hhmm(window_start) + mark, *(item.get(attribute) for _, attribute in columns)])
        add(text_table(["window", *(header for header, _ in columns)], rows))

    add("")
    add("Alert transitions (every evaluation whose state differs from the previous window's)")
    rows = [
        [
            _hhmm(e["window_start"]),
            e["rule_id"],
            e["resource"],
            f"{e['previous_state']} -> {e['state']}",
            e.get("value"),
            e["threshold"],
            "yes" if e.get("notified") else "no",
        ]
        for e in stored.transitions()
    ]
    add(text_table(["window", "rule", "resource", "transition", "value", "threshold", "notified"], rows))

    add("")
    add(
        f"SNS notifications read back from the inbox queue subscribed to the alerts topic ({len(result.notifications)})"
    )
    notifications = sorted(result.notifications, key=lambda n: (n["message"]["window_start"], n["message"]["rule_id"]))
    rows = [
        [
            _hhmm(n["message"]["window_start"]),
            n["attributes"].get("state"),
            n["message"]["rule_id"],
            n["message"]["resource"],
            f"{n['message']['previous_state']} -> {n['message']['state']}",
            n["message"].get("value"),
            n["message"]["threshold"],
        ]
        for n in notifications
    ]
    add(text_table(["window", "state", "rule", "resource", "transition", "value", "threshold"], rows))
    if notifications:
        add(f"e.g. subject: {notifications[0]['subject']}")

    alarms = {rule_.rule_id: len(stored.alarm_windows(rule_.rule_id)) for rule_ in RULES}
    add("")
    add("Windows in ALARM per rule: " + ", ".join(f"{rule_id} {count}" for rule_id, count in alarms.items()))
    if result.chart:
        add(f"Chart: {result.chart}")
    add("=" * 100)
    return "\n".join(out)


# --- the chart -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    title: str
    service: Service
    series: tuple[tuple[str, str], ...]  # (aggregate attribute, legend label)
    rule_id: str  # the rule whose threshold is drawn and whose ALARM windows are shaded
    unit: str


_A, _L, _R = Service.APIGATEWAY, Service.LAMBDA, Service.RDS
CHART_PANELS: tuple[Panel, ...] = (
    Panel("API Gateway latency", _A,
          (("latency_avg_ms", "average"), ("latency_p95_ms", "p95"), ("latency_p99_ms", "p99")),
          "api_latency_avg", "ms"),
    Panel("API Gateway error rate (4XX + 5XX)", _A, (("error_rate_pct", "error rate"),), "api_error_rate", "%"),
    Panel("Lambda duration", _L, (("duration_avg_ms", "average"),), "lambda_duration_avg", "ms"),
    Panel("RDS CPU utilization", _R, (("cpu_avg_pct", "average"), ("cpu_max_pct", "maximum")), "rds_cpu_avg", "%"),
    Panel("RDS database connections", _R, (("connections_max", "maximum"), ("connections_avg", "average")),
          "rds_connections_max", "connections"),
)  # fmt: skip


def _spans(window_starts: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    """Consecutive windows merged into ``(start, end)`` spans."""
    spans: list[tuple[datetime, datetime]] = []
    for start in sorted(window_starts):
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], start + WINDOW)
        else:
            spans.append((start, start + WINDOW))
    return spans


def write_chart(stored: Stored, plan: Plan, path: Path) -> Path:
    """Five panels of what the pipeline stored, each with its rule's threshold and its ALARM windows shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(CHART_PANELS), 1, figsize=(11, 12), sharex=True, dpi=80)
    for ax, panel in zip(axes, CHART_PANELS, strict=True):
        items = sorted(
            (item for (service, _), item in stored.aggregates.items() if service == panel.service.value),
            key=lambda item: item["window_start"],
        )
        starts = [naming.parse_window_sk(item["window_start"]) for item in items]
        for attribute, label in panel.series:
            values = [item.get(attribute, float("nan")) for item in items]
            # A window's value holds for the whole window: step from its start to its end.
            ax.step([*starts, starts[-1] + WINDOW], [*values, values[-1]], where="post", label=label, linewidth=1.4)
        threshold_rule = rule(panel.rule_id)
        ax.axhline(threshold_rule.threshold, color="crimson", linestyle="--", linewidth=1.2)
        ax.annotate(
            f"{panel.rule_id} > {threshold_rule.threshold:g}",
            xy=(1.0, threshold_rule.threshold),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            color="crimson",
            fontsize=8,
        )
        for index, (first, end) in enumerate(_spans(stored.alarm_windows(panel.rule_id))):
            ax.axvspan(first, end, color="crimson", alpha=0.15, label="ALARM" if index == 0 else None)
        ax.set_title(panel.title, fontsize=10, loc="left")
        ax.set_ylabel(panel.unit)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8, ncols=4)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    axes[-1].set_xlabel("window start (UTC)")
    axes[-1].set_xlim(plan.start, plan.end)
    figure.suptitle(
        f"cw-analytics demo: 5-minute aggregates from DynamoDB, {_iso(plan.start)} .. {_iso(plan.end)}", fontsize=11
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


# --- the run ---------------------------------------------------------------------------------------------


def _import_handler(progress: Progress):
    # Dagster warns that BackfillPolicy is beta each time the assets are built; the handler silences it
    # once imported, but the code location it imports builds them first.
    warnings.filterwarnings("ignore", message=r".*is currently in beta")
    from cw_pipeline.runtime import handler as lambda_handler

    progress("imported the aggregator Lambda's handler (dagster, pandas, boto3)")
    return lambda_handler


def run_demo(
    now: datetime,
    hours: float = DEFAULT_HOURS,
    seed: int = DEFAULT_SEED,
    incident_minutes: int = DEFAULT_INCIDENT_MINUTES,
    out: Path = Path(DEFAULT_OUT),
    progress: Progress | None = None,
    emulator_factory: Callable[[], contextlib.AbstractContextManager[Emulator]] = running_emulator,
) -> DemoResult:
    """Everything the module docstring lists, at ``now``; returns what the report is made of."""
    progress = progress or Progress()
    work = Path(tempfile.mkdtemp(prefix="cw-demo-"))
    try:
        with emulator_factory() as emulator:
            progress(f"emulator listening on {emulator.endpoint_url} (table, topic and inbox queue provisioned)")
            environment = {
                **emulator.environment(),
                "DAGSTER_HOME": str(work / "dagster_home"),
                "DAGSTER_DISABLE_TELEMETRY": "true",
                # Powertools reads these when the handler module is imported, as on Lambda; the handler's JSON
                # log lines are WARNING and above only, unless asked for, so that the report stays readable.
                "POWERTOOLS_SERVICE_NAME": os.environ.get("POWERTOOLS_SERVICE_NAME", LAMBDA_SERVICE_NAME),
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            }
            with patched_environment(environment, _CLEARED_VARIABLES):
                return _run_against(emulator, now, hours, seed, incident_minutes, out, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        progress("emulator stopped")


def _run_against(
    emulator: Emulator, now: datetime, hours: float, seed: int, incident_minutes: int, out: Path, progress: Progress
) -> DemoResult:
    settings = Settings.from_env()
    plan = make_plan(now, hours, incident_minutes, settings.settle_seconds)
    resources = Resources.from_settings(settings)
    workload: Workload = generate(plan.start, plan.end, seed=seed, incident=plan.incident, resources=resources)
    progress(
        f"generated {len(workload.datapoints)} one-minute datapoints, {_iso(plan.start)} .. {_iso(plan.end)}, "
        f"incident {plan.incident.start:%H:%M}-{plan.incident.end:%H:%M}"
    )
    with counting_api_calls() as publish_calls:
        report = publish(workload, emulator.client("cloudwatch"))
    progress(f"published them with {report.calls} PutMetricData calls")

    lambda_handler = _import_handler(progress)
    summaries, api_calls = [], []
    for event in (plan.backfill_event(), plan.scheduled_event()):
        with counting_api_calls() as calls:
            summary = lambda_handler.handler(event, FakeLambdaContext())
        summaries.append(summary)
        api_calls.append(calls)
        progress(
            f"handler({_describe(event)}): {len(summary['windows'])} windows, "
            f"{summary['aggregates_written']} aggregates, {summary['evaluations_written']} evaluations, "
            f"{summary['notifications_sent']} notifications, {sum(calls.values())} API calls, "
            f"run {summary['duration_ms']} ms"
        )

    session = emulator.session()
    client_session = EndpointSession(session, emulator.endpoint_url)
    stored = Stored.from_items(scan_table(client_session, emulator.resources.table_name))
    notifications = read_notifications(client_session, emulator.resources.inbox_queue_url)
    progress(
        f"read back {len(stored.aggregates)} aggregates and {len(stored.evaluations)} evaluations from DynamoDB, "
        f"{len(notifications)} notifications from SQS"
    )
    chart = write_chart(stored, plan, out / "chart.png")
    progress(f"wrote {chart}")
    return DemoResult(
        plan=plan,
        emulator_endpoint=emulator.endpoint_url,
        resources=resources,
        summaries=summaries,
        api_calls=api_calls,
        publish_calls=publish_calls,
        stored=stored,
        notifications=notifications,
        chart=chart,
    )


class EndpointSession:
    """A boto3 session whose clients and resources all go to one endpoint."""

    def __init__(self, session, endpoint_url: str) -> None:
        self._session, self._endpoint_url = session, endpoint_url

    def client(self, service_name: str):
        return self._session.client(service_name, endpoint_url=self._endpoint_url)

    def resource(self, service_name: str):
        return self._session.resource(service_name, endpoint_url=self._endpoint_url)


def _describe(event: dict) -> str:
    if "backfill" in event:
        return f"backfill {event['backfill']['start']} .. {event['backfill']['end']}"
    return f"scheduled_time {event['scheduled_time']}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cw_local.demo",
        description="Run the whole pipeline on the local AWS emulator through the Lambda handler and report.",
    )
    parser.add_argument("--hours", type=float, default=DEFAULT_HOURS, help="hours of workload (default 3)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="workload seed (default 7)")
    parser.add_argument(
        "--incident-minutes", type=int, default=DEFAULT_INCIDENT_MINUTES, help="incident length (default 20)"
    )
    parser.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), help="where chart.png goes (default .demo)")
    args = parser.parse_args(argv)
    if args.incident_minutes <= 0 or args.incident_minutes % 5:
        parser.error("--incident-minutes must be a positive multiple of 5")
    if not 0.5 <= args.hours <= 48:
        parser.error("--hours must be between 0.5 and 48")

    now = datetime.now(UTC)  # the demo's only clock reading
    progress = Progress()
    progress(f"cw-analytics demo at {_iso(now)}: {args.hours:g} h of workload, seed {args.seed}")
    result = run_demo(now, args.hours, args.seed, args.incident_minutes, args.out, progress)
    print(render_report(result), flush=True)
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
