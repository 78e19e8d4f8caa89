"""``make ui``: the Dagster UI on the code location, pointed at the local AWS emulator with a live workload.

Run ``python -m cw_local.ui [--port 3000] [--emulator-port 4566] [--hours 3] [--dagster-home .dagster_home]
[--dagster-pg-url URL | --no-dagster-pg]``. It reads the clock once, then:

1. finds (or creates) the Dagster instance database it shares with ``make demo`` on the local PostgreSQL
   (`cw_local.dagster_instance`) and writes ``dagster.yaml`` in ``DAGSTER_HOME`` with that storage, so the
   demo's runs appear in the Runs page; without a PostgreSQL server, storage stays under ``DAGSTER_HOME``
   and it says so;
2. starts the emulator (`cw_local.emulator`) on ``--emulator-port`` (a port in use is refused
   with the emulator's message);
3. publishes the last ``--hours`` of workload with a database incident in the middle, as ``make demo``
   does, and keeps publishing each new minute in the background, so the schedule finds fresh data;
4. runs ``dagster dev -w workspace.yaml`` (webserver + daemon; the daemon executes backfills) with the
   emulator's environment and ``DAGSTER_HOME``, until it exits or this process gets SIGINT/SIGTERM;
5. stops ``dagster dev`` and the emulator.

The same code location runs against AWS when the environment names a real account (docs/demo.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cw_local import dagster_instance
from cw_local.demo.plan import DEFAULT_INCIDENT_MINUTES, DEFAULT_SEED, make_plan
from cw_local.demo.run import Progress
from cw_local.emulator import EmulatorError, running_emulator
from cw_local.fakes import patched_environment
from cw_local.workload import Resources, generate, publish
from cw_pipeline.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = 3000
DEFAULT_EMULATOR_PORT = 4566
DEFAULT_HOURS = 3.0
DEFAULT_DAGSTER_HOME = ".dagster_home"
SHUTDOWN_TIMEOUT = 30.0
QUIET_WARNINGS = ("Parameter `backfill_policy`", "Function `dev_command` is superseded")


def dagster_dev_command(host: str, port: int, workspace: Path = PROJECT_ROOT / "workspace.yaml") -> list[str]:
    """``dagster dev`` from this interpreter's environment: webserver and daemon on the workspace."""
    dagster = Path(sys.executable).parent / "dagster"
    return [str(dagster), "dev", "-w", str(workspace), "-h", host, "-p", str(port)]


def dagster_environment(
    emulator_environment: Mapping[str, str], dagster_home: Path, instance_url: str | None
) -> dict[str, str]:
    """This process's environment, pointed at the emulator, with its own DAGSTER_HOME, whose dagster.yaml
    names the shared instance at ``instance_url`` (None: Dagster's storage under DAGSTER_HOME)."""
    dagster_instance.write_instance_yaml(dagster_home, instance_url)
    environment = {**os.environ, **emulator_environment}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        environment.pop(name, None)
    environment.update(
        # Dagster's notices about its own APIs (beta BackfillPolicy, `dagster dev` vs `dg dev`), not ours.
        PYTHONWARNINGS=",".join(f"ignore:{prefix}" for prefix in QUIET_WARNINGS),
        DAGSTER_HOME=str(dagster_home.resolve()),
        DAGSTER_DISABLE_TELEMETRY="true",
    )
    return environment


class LiveFeed(threading.Thread):
    """Publishes each minute of workload once it has ended (no incident), from ``start`` on."""

    def __init__(self, start: datetime, seed: int, resources: Resources, cloudwatch_client, progress: Progress):
        super().__init__(name="cw-live-workload", daemon=True)
        self.next_minute, self.seed, self.resources = start, seed, resources
        self.cloudwatch, self.progress = cloudwatch_client, progress
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(20):
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            if now <= self.next_minute:
                continue
            try:
                workload = generate(self.next_minute, now, seed=self.seed, resources=self.resources)
                publish(workload, self.cloudwatch)
            except Exception as error:  # the emulator is going away, or a transient failure: try again later
                if not self.stopped.is_set():
                    self.progress(f"live workload: publishing failed ({error}); retrying")
                continue
            self.next_minute = now


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cw_local.ui", description="Dagster UI on the local AWS emulator with a workload."
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="Dagster webserver port (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="Dagster webserver host (default 127.0.0.1)")
    parser.add_argument("--emulator-port", type=int, default=DEFAULT_EMULATOR_PORT, help="default 4566; 0: free")
    parser.add_argument("--hours", type=float, default=DEFAULT_HOURS, help="hours of workload (default 3)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--dagster-home", type=Path, default=Path(DEFAULT_DAGSTER_HOME))
    parser.add_argument("--no-live", action="store_true", help="do not keep publishing new minutes")
    dagster_instance.add_arguments(parser, "the UI reads and its runs")
    args = parser.parse_args(argv)
    instance_url = dagster_instance.url_from_arguments(parser, args)

    now = datetime.now(UTC)  # the only clock reading, but for the live feed's
    progress = Progress()
    shared = dagster_instance.choose(instance_url, fallback=f"Dagster's storage under {args.dagster_home}")
    progress(shared.note)
    signal.signal(signal.SIGTERM, _interrupt)  # until dagster dev runs: stop as Ctrl-C does, emulator included
    # A shell starts background jobs with SIGINT ignored, and children inherit that: dagster dev would never stop.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with contextlib.ExitStack() as stack:
        try:
            emulator = stack.enter_context(running_emulator(port=args.emulator_port))
        except EmulatorError as error:
            print(
                f"make ui: {error}\nHere the emulator's port is --emulator-port, e.g. "
                "make ui UI_ARGS='--emulator-port 0' (any free port).",
                file=sys.stderr,
            )
            return 2
        try:
            return _serve(emulator, now, args, shared, progress, stack)
        finally:
            if _stop_signal.get("signal") == signal.SIGINT:
                # Ctrl-C in a terminal reached the emulator too (same process group): let it finish stopping
                # rather than signal it again while it exits.
                with contextlib.suppress(subprocess.TimeoutExpired, AttributeError):
                    emulator._process.wait(5)
            stack.close()  # the live feed, then the emulator
            progress(f"emulator stopped (exit code {emulator.exit_code})")


def _interrupt(_signal_number, _frame) -> None:
    raise KeyboardInterrupt


def _serve(
    emulator,
    now: datetime,
    args: argparse.Namespace,
    shared: dagster_instance.SharedInstance,
    progress: Progress,
    stack: contextlib.ExitStack,
) -> int:
    progress(f"emulator listening on {emulator.endpoint_url}")
    with patched_environment(emulator.environment()):
        settings = Settings.from_env()
    plan = make_plan(now, args.hours, DEFAULT_INCIDENT_MINUTES, settings.settle_seconds)
    resources = Resources.from_settings(settings)
    workload = generate(plan.start, plan.end, seed=args.seed, incident=plan.incident, resources=resources)
    cloudwatch = emulator.client("cloudwatch")
    report = publish(workload, cloudwatch)
    progress(
        f"published {len(workload.datapoints)} datapoints ({report.calls} PutMetricData calls), "
        f"{plan.start:%Y-%m-%d %H:%M} .. {plan.end:%H:%M} UTC, incident {plan.incident.start:%H:%M}-"
        f"{plan.incident.end:%H:%M}"
    )
    if not args.no_live:
        feed = LiveFeed(plan.end, args.seed, resources, cloudwatch, progress)
        feed.start()
        stack.callback(feed.stopped.set)
        progress("publishing each new minute in the background")

    environment = dagster_environment(emulator.environment(), args.dagster_home, shared.url)
    url = f"http://{args.host}:{args.port}"
    first = plan.start.strftime("%Y-%m-%d-%H:%M")
    last = (plan.end - timedelta(minutes=5)).strftime("%Y-%m-%d-%H:%M")
    incident = f"{plan.incident.start:%H:%M}-{plan.incident.end:%H:%M}"
    runs_note = (
        "(make demo's Lambda runs too: tag cw/trigger)" if shared.shared else "(this UI's runs only: not shared)"
    )
    print(
        f"""
Dagster UI: {url}  (starting; Ctrl-C stops it and the emulator)
  asset lineage:  {url}/asset-groups/cloudwatch_metrics
  materialize:    Assets > cloudwatch_metrics > Materialize all > pick one partition, e.g. {last}
  backfill:       same dialog, a range of partitions {first}...{last} (one run: single-run backfill policy)
  progress:       {url}/runs?tab=backfills  (the daemon executes backfills)
  runs:           {url}/runs  {runs_note}
  workload:       {plan.start:%H:%M}..{plan.end:%H:%M} UTC, incident {incident}
  emulator:       AWS_ENDPOINT_URL={emulator.endpoint_url} (table {emulator.resources.table_name})
""",
        flush=True,
    )
    return _run_dagster_dev(dagster_dev_command(args.host, args.port), environment, progress)


_stop_signal: dict[str, int] = {}  # the signal that stopped dagster dev, if one did


def _run_dagster_dev(command: list[str], environment: dict[str, str], progress: Progress) -> int:
    """Run ``command`` in its own process group; SIGINT/SIGTERM here are passed on once, then waited for."""
    process = subprocess.Popen(command, env=environment, cwd=PROJECT_ROOT, start_new_session=True)
    forwarded = threading.Event()

    def forward(signal_number, _frame) -> None:
        if not forwarded.is_set() and process.poll() is None:
            forwarded.set()
            _stop_signal["signal"] = signal_number
            progress(f"stopping dagster dev ({signal.Signals(signal_number).name})")
            process.send_signal(signal.SIGINT)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    deadline: float | None = None  # set once a stop has been passed on
    try:
        while True:
            try:
                code = process.wait(1.0)
                return 0 if forwarded.is_set() else code  # stopped on request: a normal end
            except subprocess.TimeoutExpired:
                if not forwarded.is_set():
                    continue
                deadline = deadline or time.monotonic() + SHUTDOWN_TIMEOUT
                if time.monotonic() > deadline:  # did not stop in time: end its whole process group
                    progress(f"dagster dev did not stop within {SHUTDOWN_TIMEOUT:.0f} s: killing it")
                    os.killpg(process.pid, signal.SIGKILL)
                    return process.wait()
    finally:
        for signal_number, handler in previous.items():
            signal.signal(signal_number, handler)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
