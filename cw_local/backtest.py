"""``make backtest ARGS=...``: replay a candidate rule or SLO next to the current one, and print the comparison.

By default on a fresh local emulator with the demo workload: the last ``--hours`` of one-minute datapoints
with a database incident in the middle are published, the pipeline job runs over them in one run (its
notifications go to the emulator's inbox queue), then both rules are replayed over the stored aggregates
(`cw_pipeline.backtest`). With ``--use-environment`` it reads the table the environment points at
(``CW_METRICS_TABLE``, ``AWS_ENDPOINT_URL``, ...) over the last ``--days`` instead, and publishes nothing.

Examples::

    make backtest ARGS="--rule api_error_rate --threshold 10"
    make backtest ARGS="--slo api_availability --objective 99.5 --severity page --hours 4"
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from dagster import BetaWarning, DagsterInstance

from cw_local.emulator import running_emulator
from cw_local.fakes import patched_environment
from cw_local.provision import read_notifications
from cw_local.workload import Incident, Resources, generate, publish
from cw_pipeline.backtest import (
    Comparison,
    Signal,
    backtest_windows,
    render_text,
    run_backtest,
    slo_signal,
    threshold_signal,
)
from cw_pipeline.config import Settings
from cw_pipeline.definitions import build_definitions
from cw_pipeline.defs.jobs import JOB_NAME
from cw_pipeline.defs.metric_store import MetricStore
from cw_pipeline.defs.partitions import range_tags
from cw_pipeline.windows import WINDOW, floor_to_window, windows_between

DEFAULT_HOURS, DEFAULT_SEED, DEFAULT_INCIDENT_MINUTES = 3.0, 7, 20
# BackfillPolicy is beta: Dagster's warning about it is noise in a command's output.
warnings.filterwarnings("ignore", category=BetaWarning)
# The pipeline's own step-by-step log lines would bury the comparison.
QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def signals(args: argparse.Namespace) -> tuple[Signal, Signal]:
    if args.rule:
        return threshold_signal(args.rule), threshold_signal(args.rule, args.threshold)
    return slo_signal(args.slo, args.severity), slo_signal(args.slo, args.severity, args.objective)


def _store(settings: Settings) -> MetricStore:
    return MetricStore(region_name=os.environ.get("AWS_REGION") or None, table_name=settings.metrics_table)


def against_environment(args: argparse.Namespace, now: datetime) -> Comparison:
    """Replay over the table the environment configures (real AWS, or an emulator via AWS_ENDPOINT_URL)."""
    settings = Settings.from_env()
    until = datetime.fromisoformat(args.until) if args.until else now
    current, candidate = signals(args)
    windows = backtest_windows(args.days, until if until.tzinfo else until.replace(tzinfo=UTC))
    return run_backtest(_store(settings), settings.resources, current, candidate, windows)


def against_demo_workload(args: argparse.Namespace, now: datetime) -> tuple[Comparison, int]:
    """Publish the demo workload on a fresh emulator, run the pipeline over it, replay; and how many
    notifications the pipeline sent for the current rule."""
    end = floor_to_window(now)
    windows = windows_between(end - timedelta(hours=args.hours), end)
    middle = windows[len(windows) // 2].start
    incident = Incident(floor_to_window(middle), timedelta(minutes=args.incident_minutes))
    current, candidate = signals(args)
    with tempfile.TemporaryDirectory(prefix="cw-backtest-") as work, running_emulator() as emulator:
        environment = {**emulator.environment(), "DAGSTER_HOME": work, "DAGSTER_DISABLE_TELEMETRY": "true"}
        with patched_environment(environment):
            settings = Settings.from_env()
            workload = generate(
                windows[0].start, end, seed=args.seed, incident=incident, resources=Resources.from_settings(settings)
            )
            publish(workload, emulator.client("cloudwatch"))
            print(
                f"published {len(workload.datapoints)} datapoints, {windows[0].start:%H:%M} .. {end:%H:%M} UTC, "
                f"incident {incident.start:%H:%M} .. {incident.end:%H:%M}; running the pipeline over "
                f"{len(windows)} windows",
                flush=True,
            )
            definitions = build_definitions(settings, now, work_dir=os.path.join(work, "frames"))
            definitions.resolve_job_def(JOB_NAME).execute_in_process(
                run_config=QUIET_RUN,
                tags=range_tags(windows),
                instance=DagsterInstance.ephemeral(),
                raise_on_error=True,
            )
            sent = [
                n
                for n in read_notifications(emulator.endpoint_session(), emulator.resources.inbox_queue_url)
                if n["message"].get("rule_id") == _rule_id(current)
            ]
            comparison = run_backtest(_store(settings), settings.resources, current, candidate, windows)
    return comparison, len(sent)


def _rule_id(signal: Signal) -> str:
    if signal.threshold_rule is not None:
        return signal.threshold_rule.rule_id
    return f"{signal.slo.slo_id}_{signal.severity.value}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make backtest ARGS=...", description=__doc__.split("\n\n")[0])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--rule", help="threshold rule id to replay, e.g. api_error_rate")
    what.add_argument("--slo", help="SLO id to replay, e.g. api_availability")
    p.add_argument("--threshold", type=float, help="the candidate rule's threshold (default: the rule's own)")
    p.add_argument("--objective", type=float, help="the candidate SLO's objective in percent (default: its own)")
    p.add_argument("--severity", default="page", choices=["page", "ticket"], help="SLO severity (default page)")
    p.add_argument("--hours", type=float, default=DEFAULT_HOURS, help="demo workload length (default 3)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="demo workload seed (default 7)")
    p.add_argument("--incident-minutes", type=int, default=DEFAULT_INCIDENT_MINUTES, help="incident (default 20)")
    p.add_argument("--use-environment", action="store_true", help="read the configured table, publish nothing")
    p.add_argument("--days", type=float, default=7.0, help="with --use-environment: days replayed (default 7)")
    p.add_argument("--until", help="with --use-environment: ISO-8601 end of the replay (default now)")
    return p


def main(argv: Sequence[str] | None = None, now: datetime | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.rule and args.objective is not None:
        p.error("--objective applies to --slo; a rule takes --threshold")
    if args.slo and args.threshold is not None:
        p.error("--threshold applies to --rule; an SLO takes --objective")
    if args.incident_minutes <= 0 or args.incident_minutes % (WINDOW.seconds // 60):
        p.error("--incident-minutes must be a positive multiple of 5")
    if not 0 < args.hours <= 48:
        p.error("--hours must be above 0 and at most 48 (the emulator is slow with days of one-minute data)")
    now = now or datetime.now(UTC)
    try:
        if args.use_environment:
            comparison = against_environment(args, now)
        else:
            comparison, sent = against_demo_workload(args, now)
            print(f"the pipeline notified {sent} transition(s) of the current rule", flush=True)
    except (KeyError, ValueError) as error:
        print(f"backtest: {error}", file=sys.stderr)
        return 2
    print(render_text(comparison), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
