"""``python -m cw_local.demo [--hours 3] [--seed 7] [--incident-minutes 20] [--out .demo]
[--dagster-pg-url URL | --no-dagster-pg]`` (``make demo``): run the demo (`cw_local.demo.run`) at the current
time and print its report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cw_local import dagster_instance
from cw_local.demo.plan import DEFAULT_HOURS, DEFAULT_INCIDENT_MINUTES, DEFAULT_SEED, iso
from cw_local.demo.report import render_report
from cw_local.demo.run import DEFAULT_OUT, Progress, run_demo


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
    dagster_instance.add_arguments(parser, "the handler's runs")
    args = parser.parse_args(argv)
    dagster_pg_url = dagster_instance.url_from_arguments(parser, args)
    if args.incident_minutes <= 0 or args.incident_minutes % 5:
        parser.error("--incident-minutes must be a positive multiple of 5")
    if not 0.5 <= args.hours <= 48:
        parser.error("--hours must be between 0.5 and 48")

    now = datetime.now(UTC)  # the demo's only clock reading
    progress = Progress()
    progress(f"cw-analytics demo at {iso(now)}: {args.hours:g} h of workload, seed {args.seed}")
    result = run_demo(
        now, args.hours, args.seed, args.incident_minutes, args.out, progress, dagster_pg_url=dagster_pg_url
    )
    print(render_report(result), flush=True)
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
