"""The demo's orchestration: the whole system on the local AWS emulator, through the production entry point.

`run_demo` reads no clock (``now`` is given) and:

1. finds (or creates) the shared Dagster instance's database on the local PostgreSQL
   (`cw_local.dagster_instance`), starts the emulator (`cw_local.emulator`, a subprocess on a free port)
   and points this process at both through the environment, as a Lambda is configured;
2. generates the last hours of CloudWatch datapoints for the stack with a database incident in the
   middle (`cw_local.workload`, `cw_local.demo.plan`) and publishes them with PutMetricData;
3. invokes the aggregator Lambda's handler (`cw_pipeline.lambda_handler.handler`) twice, as AWS would:
   one manual backfill event over every generated window but the newest, then the EventBridge Scheduler
   event whose newest settled window is the newest generated one;
4. reads back what the pipeline wrote (DynamoDB aggregates and evaluations) and sent (the SNS
   notifications, from the SQS queue subscribed to the alerts topic) and writes ``<out>/chart.png``;
5. stops the emulator, whatever happened.

The handler's runs land in the shared instance (``CW_DAGSTER_PG_URL``), where `make ui` shows them with their
tags; without a PostgreSQL server they go to an ephemeral instance, and the demo says so.

API calls are counted with `cw_local.fakes.counting_api_calls`: every call the handler's boto3 clients make
(GetMetricData, BatchWriteItem, Query, Publish) and the workload's PutMetricData.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from cw_local import dagster_instance
from cw_local.demo.chart import write_chart
from cw_local.demo.plan import DEFAULT_HOURS, DEFAULT_INCIDENT_MINUTES, DEFAULT_SEED, describe_event, iso, make_plan
from cw_local.demo.readback import read_back
from cw_local.demo.report import DemoResult
from cw_local.emulator import Emulator, running_emulator
from cw_local.fakes import FakeLambdaContext, counting_api_calls, patched_environment
from cw_local.workload import Resources, generate, publish
from cw_pipeline import naming
from cw_pipeline.config import Settings
from cw_pipeline.runtime import instance as instances

DEFAULT_OUT = ".demo"
LAMBDA_SERVICE_NAME = naming.resource_name("dev", naming.AGGREGATOR_FUNCTION)
# What this process must not inherit when it points itself at the emulator.
_CLEARED_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "CW_DAGSTER_PG_URL", "CW_DAGSTER_PG_SECRET_ARN")


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


def run_demo(
    now: datetime,
    hours: float = DEFAULT_HOURS,
    seed: int = DEFAULT_SEED,
    incident_minutes: int = DEFAULT_INCIDENT_MINUTES,
    out: Path = Path(DEFAULT_OUT),
    progress: Progress | None = None,
    emulator_factory: Callable[[], contextlib.AbstractContextManager[Emulator]] = running_emulator,
    dagster_pg_url: str | None = dagster_instance.DEFAULT_URL,
) -> DemoResult:
    """Everything the module docstring lists, at ``now``; returns what the report is made of.

    ``dagster_pg_url``: the shared Dagster instance's database; None runs the handler on an ephemeral instance.
    """
    progress = progress or Progress()
    shared = dagster_instance.choose(dagster_pg_url, fallback="ephemeral (the runs end with the demo)")
    progress(shared.note)
    work = Path(tempfile.mkdtemp(prefix="cw-demo-"))
    # Dagster prints a notice when DAGSTER_HOME has no dagster.yaml; the storage comes from the environment.
    (work / "dagster_home").mkdir()
    (work / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
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
                # The run metrics' EMF lines (cw_pipeline.runtime.run_metrics) would interleave with the report.
                "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
                **({instances.PG_URL_VARIABLE: shared.url} if shared.url else {}),
            }
            with patched_environment(environment, _CLEARED_VARIABLES):
                result = _run_against(emulator, now, hours, seed, incident_minutes, out, progress)
                result.instance = shared
                return result
    finally:
        instances.dispose_shared()  # the handler's pooled connections to the instance database
        shutil.rmtree(work, ignore_errors=True)
        progress("emulator stopped")


def _import_handler(progress: Progress):
    # Dagster warns that BackfillPolicy is beta each time the assets are built; the handler silences it
    # once imported, but the code location it imports builds them first.
    warnings.filterwarnings("ignore", message=r".*is currently in beta")
    from cw_pipeline.runtime import handler as lambda_handler

    progress("imported the aggregator Lambda's handler (dagster, pandas, boto3)")
    return lambda_handler


def _run_against(
    emulator: Emulator, now: datetime, hours: float, seed: int, incident_minutes: int, out: Path, progress: Progress
) -> DemoResult:
    settings = Settings.from_env()
    plan = make_plan(now, hours, incident_minutes, settings.settle_seconds)
    resources = Resources.from_settings(settings)
    workload = generate(plan.start, plan.end, seed=seed, incident=plan.incident, resources=resources)
    progress(
        f"generated {len(workload.datapoints)} one-minute datapoints, {iso(plan.start)} .. {iso(plan.end)}, "
        f"incident {plan.incident.start:%H:%M}-{plan.incident.end:%H:%M}"
    )
    with counting_api_calls() as publish_calls:
        report = publish(workload, emulator.client("cloudwatch"))
    progress(f"published them with {report.calls} PutMetricData calls")

    lambda_handler = _import_handler(progress)
    summaries, api_calls = [], []
    for event in (plan.backfill_event(), plan.scheduled_event()):
        context = FakeLambdaContext(function_name=LAMBDA_SERVICE_NAME)
        with counting_api_calls() as calls:
            summary = lambda_handler.handler(event, context)
        summaries.append({**summary, "request_id": context.aws_request_id})
        api_calls.append(calls)
        progress(
            f"handler({describe_event(event)}): {len(summary['windows'])} windows, "
            f"{summary['aggregates_written']} aggregates, {summary['evaluations_written']} evaluations, "
            f"{summary['notifications_sent']} notifications, {sum(calls.values())} API calls, "
            f"run {summary['duration_ms']} ms"
        )

    stored, notifications = read_back(emulator)
    progress(
        f"read back {len(stored.aggregates)} aggregates and {len(stored.evaluations)} evaluations from DynamoDB, "
        f"{len(notifications)} notifications from SQS"
    )
    chart = write_chart(stored, plan, out / "chart.png")
    progress(f"wrote {chart}")
    # The daily SLO report over the demo's hours, as the report job writes it (here to <out>/reports).
    from cw_pipeline.defs.slo_assets import report_from_settings  # dagster: imported with the handler, not before

    slo_report = report_from_settings(replace(settings, reports_dir=str(out / "reports")), plan.start, plan.end, now)
    progress(f"wrote the SLO report {slo_report}")
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
        slo_report=slo_report,
    )
