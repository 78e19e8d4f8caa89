"""The aggregator Lambda: each invocation runs the pipeline's Dagster job in-process over its windows.

EventBridge invokes it every 5 minutes (a Scheduler input ``{"scheduled_time": ...}`` or a classic
scheduled-rule event); an operator can invoke it with ``{"backfill": {"start": ..., "end": ...}}``.
The event decides the windows (`cw_pipeline.runtime.invocation`), the job is the one the Dagster UI shows
(`cw_pipeline.definitions`, ``JOB_NAME``), run as one single-run backfill over those windows.

- A bad event raises `InvalidEvent` before anything is written; a failed run raises `RunFailed`, so
  Lambda's retries and the dead-letter queue apply. A retried event rewrites the same keys. A run that
  finds another run holding the lease (`cw_pipeline.lease`) raises `RunBlocked` before any work:
  Lambda retries it later.
- ``handler(event, None)`` (a local call, without Lambda) works: the log lines then carry a local
  stand-in for the Lambda context.
- Logs are JSON lines (AWS Lambda Powertools), the job's own log lines included. Each run ends with one
  EMF line of the run metrics (`cw_pipeline.runtime.run_metrics`), printed before a failure is raised.
- The Dagster instance is ephemeral unless ``CW_DAGSTER_PG_URL`` / ``CW_DAGSTER_PG_SECRET_ARN``
  name a PostgreSQL shared with the webserver (`cw_pipeline.runtime.instance`). A run over many windows
  batches its materialization events and records its plan once per asset (`instance.planned_events`).
- A warm invocation reuses what the previous one built when its configuration is the same: the job
  (definitions for the same settings and partition day), the Dagster instance (an ephemeral one forgets
  each run once it is summarised, so its memory does not grow), and the boto3 clients
  (`cw_pipeline.defs.aws_clients`). The frames pass between the steps in memory: every step of a run
  runs in this process.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from dagster import BetaWarning, DagsterInstance, Field, JobDefinition
from dagster import logger as dagster_logger

from cw_pipeline.config import Settings
from cw_pipeline.definitions import build_definitions
from cw_pipeline.defs.jobs import JOB_NAME
from cw_pipeline.defs.partitions import range_tags
from cw_pipeline.runtime import instance as instances
from cw_pipeline.runtime.invocation import InvalidEvent, Invocation, parse_event
from cw_pipeline.runtime.run_metrics import recorded_run
from cw_pipeline.windows import earliest_pullable_window

__all__ = ["InvalidEvent", "RunBlocked", "RunFailed", "handler"]

AGGREGATES_ASSET = "metric_aggregates"
EVALUATIONS_ASSET = "alert_evaluations"
BURN_RATES_ASSET = "slo_burn_rates"
TRIGGER_TAG = "cw/trigger"
REQUEST_ID_TAG = "cw/lambda_request_id"
JOB_LOG_LEVEL = "DEBUG"  # everything reaches the Powertools logger, whose POWERTOOLS_LOG_LEVEL filters
STEP_EVENT_LEVELS = {"STEP_SUCCESS": logging.INFO, "STEP_FAILURE": logging.ERROR}

logger = Logger()  # service from POWERTOOLS_SERVICE_NAME, level from POWERTOOLS_LOG_LEVEL
# BackfillPolicy is beta; Dagster's warning about it would be a plain-text line in every cold start.
warnings.filterwarnings("ignore", category=BetaWarning)


# Built by the first invocation of an execution environment, reused by the next ones (see the module docstring).
_jobs: dict[tuple, JobDefinition] = {}  # (settings, first partition, region) -> the job with its JSON-lines logger
_ephemeral: dict[str, DagsterInstance] = {}  # DAGSTER_HOME -> the in-memory instance


class RunFailed(RuntimeError):
    """The Dagster run failed; the message names the run, its windows, the failing step and its error."""


class RunBlocked(RunFailed):
    """Another run holds the run lease; this one did nothing and can be retried once that run is over."""


LEASE_HELD_ERROR = "LeaseHeld"  # the class name of `cw_pipeline.lease.LeaseHeld` in Dagster's error record


@dataclass(frozen=True)
class LocalContext:
    """What Powertools reads from a Lambda context, for a call made outside Lambda with no context."""

    function_name: str = "local"
    memory_limit_in_mb: int = 0
    invoked_function_arn: str = "local"
    aws_request_id: str = field(default_factory=lambda: f"local-{uuid.uuid4()}")


def now_utc() -> datetime:
    """The invocation's clock, read once per invocation (tests replace it)."""
    return datetime.now(UTC)


def handler(event: dict, context: Any = None) -> dict:
    """The Lambda entry point; ``context`` may be None for a local call."""
    return _handler(event, context if context is not None else LocalContext())


@logger.inject_lambda_context(clear_state=True)
def _handler(event: dict, context: Any) -> dict:
    now = now_utc()
    settings = Settings.from_env()
    try:
        invocation = parse_event(event, settings, now)
    except InvalidEvent as error:
        logger.error("invalid event", extra={"error": str(error), "event": event})
        raise
    request_id = None if isinstance(context, LocalContext) else getattr(context, "aws_request_id", None)
    # RunSucceeded, RunFailed or RunBlocked, and RunDuration: one EMF line on stdout.
    with recorded_run(settings.env, blocked=(RunBlocked,)):
        return run(invocation, settings, now, request_id=request_id)


def run(invocation: Invocation, settings: Settings, now: datetime, request_id: str | None = None) -> dict:
    """Run the job over ``invocation.windows``; the summary, or `RunFailed`.

    The run is tagged with the trigger and the Lambda request id, so a run in the Dagster UI leads to
    its invocation's log lines and back.
    """
    keys = invocation.partition_keys
    logger.append_keys(event_kind=invocation.kind.value, first_window=keys[0], last_window=keys[-1])
    home = instances.prepare_environment()
    choice = instances.choose_instance()
    started = time.perf_counter()
    instance = _instance(choice, home)
    with instances.planned_events(len(keys)):
        result = _job(settings, now).execute_in_process(
            run_config={"loggers": {"console": {"config": {"log_level": JOB_LOG_LEVEL}}}},
            tags={
                **range_tags(list(invocation.windows)),
                TRIGGER_TAG: invocation.kind.value,
                **({REQUEST_ID_TAG: request_id} if request_id else {}),
            },
            instance=instance,
            raise_on_error=False,
        )
    try:
        return _summary(result, invocation, choice.mode, started)
    finally:
        if choice.mode == instances.EPHEMERAL:
            # The summary has been read from the result: the instance forgets the run, so a warm
            # environment's memory stays flat however many invocations it serves.
            instance.delete_run(result.run_id)


def _job(settings: Settings, now: datetime) -> JobDefinition:
    """The job for ``settings`` with partitions up to ``now``; built again only when either changes (or the
    region `build_definitions` reads from the environment)."""
    key = (settings, earliest_pullable_window(now).start, os.environ.get("AWS_REGION"))
    job = _jobs.get(key)
    if job is None:
        _jobs.clear()  # the partition set moves once a day: keep only the current one
        definitions = build_definitions(settings, now=now, frames_in_memory=True)
        job = _jobs[key] = definitions.resolve_job_def(JOB_NAME).with_logger_defs({"console": _json_lines_logger})
    return job


def _instance(choice: instances.InstanceChoice, home: Path) -> DagsterInstance:
    if choice.postgres_url:
        return instances.postgres_instance(choice.postgres_url, home)  # cached by that module
    instance = _ephemeral.get(str(home))
    if instance is None:
        instance = _ephemeral[str(home)] = instances.ephemeral_instance(home / "ephemeral")
    return instance


def _summary(result, invocation: Invocation, mode: str, started: float) -> dict:
    keys = invocation.partition_keys
    duration_ms = round((time.perf_counter() - started) * 1000)

    if not result.success:
        failed = result.get_step_failure_events()
        failures = [f"{event.step_key}: {_error_message(event)}" for event in failed]
        message = f"run {result.run_id} over {len(keys)} window(s) {keys[0]} .. {keys[-1]} failed: " + (
            "; ".join(failures) or "the run did not succeed (no step failure recorded)"
        )
        logger.error(
            "run failed",
            extra={"run_id": result.run_id, "windows": len(keys), "duration_ms": duration_ms, "failures": failures},
        )
        if any(_error_class(event) == LEASE_HELD_ERROR for event in failed):
            raise RunBlocked(message)
        raise RunFailed(message)

    aggregates = _metadata(result, AGGREGATES_ASSET)
    evaluations = _metadata(result, EVALUATIONS_ASSET)
    burn_rates = _metadata(result, BURN_RATES_ASSET)
    summary = {
        "status": "succeeded",
        "trigger": invocation.kind.value,
        "windows": keys,
        "aggregates_written": int(aggregates["items_written"]),
        "evaluations_written": int(evaluations["evaluations_written"]),
        "burn_rates_written": int(burn_rates["evaluations_written"]),
        # Everything the run published: the threshold rules' and the SLOs' (one outbox, see alerting).
        "notifications_sent": int(evaluations["notifications_sent"]) + int(burn_rates["notifications_sent"]),
        "run_id": result.run_id,
        "instance": mode,
        "duration_ms": duration_ms,
    }
    logger.info("run succeeded", extra={**summary, "windows": len(keys)})
    return summary


def _step_error(event):
    """The step's own error, not Dagster's wrapper around it ("Error occurred while executing op ...")."""
    error = event.step_failure_data.error if event.step_failure_data else None
    while error is not None and error.cls_name and error.cls_name.startswith("Dagster") and error.cause is not None:
        error = error.cause
    return error


def _error_message(event) -> str:
    error = _step_error(event)
    return error.message.strip() if error is not None else "failed"


def _error_class(event) -> str | None:
    error = _step_error(event)
    return error.cls_name if error is not None else None


def _metadata(result, node: str) -> dict[str, Any]:
    """The run's metadata of one asset. A range run records one materialization per window, each with the
    run's whole metadata (the totals over every window), so one of them is read, not their sum."""
    materializations = result.asset_materializations_for_node(node)
    if not materializations:
        raise RunFailed(f"run {result.run_id} succeeded but recorded no materialization of {node}")
    return {name: value.value for name, value in materializations[0].metadata.items()}


class _ToPowertools(logging.Handler):
    """Re-emits the job's log records through the Powertools logger, one JSON line each, with the step.

    Dagster logs its events at DEBUG; a step's success or failure (with its duration) is raised to INFO /
    ERROR so that every run leaves one timing line per step at the default level, and the rest stay DEBUG.
    """

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        level, extra = record.levelno, {"dagster_run_id": meta.get("run_id"), "step": meta.get("step_key")}
        if event is not None:
            extra["dagster_event"] = event.event_type_value
            level = max(level, STEP_EVENT_LEVELS.get(event.event_type_value, level))
        message = meta.get("orig_message") or record.getMessage()
        logging.getLogger(logger.name).log(level, message, extra=extra)


@dagster_logger(
    config_schema={"log_level": Field(str, is_required=False, default_value="INFO")},
    description="The job's log lines as Powertools JSON lines.",
)
def _json_lines_logger(init_context) -> logging.Logger:
    job_logger = logging.Logger("cw_pipeline.dagster", level=init_context.logger_config["log_level"])
    job_logger.addHandler(_ToPowertools())
    return job_logger
