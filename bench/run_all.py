"""`make bench`: every benchmark on the local emulator, then docs/benchmarks.md from the figures.

Scenarios (each pipeline figure measured in the same run as the baseline's, alternating A B A B):

1. seed stack, 7 days of data: the import alone (Lambda's Init phase), a cold scheduled run (whole process,
   2 windows) and warm invocations (in one process) on an empty table, Dagster's per-run floor, a 7-day
   backfill (2,016 windows, one run), then the cold and warm runs again at steady state (the backfill's 7
   days stored: each run reads a full 3-day SLO history);
2. the estate of 1,000 functions, 50 REST APIs and 20 databases (found by ``CW_DISCOVERY=metrics``): a cold
   scheduled run over 2 windows; then the same run at steady state, on a table already holding 3 days of SLO
   history (the pipeline alone: the baseline would read 907,000 aggregates);
3. the interactions API load test (bench/api_load.py, local PostgreSQL).

Bytecode is compiled first (``compileall``), as the Lambda image's ``pip install`` does: this machine sets
``PYTHONDONTWRITEBYTECODE=1``, which would make every cold process compile ~2,000 modules again.

    python -m bench.run_all [--runs 5] [--output docs/benchmarks.md] [--skip-api]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import harness, outputs, report, stacks
from cw_local.emulator import Emulator, running_emulator
from cw_pipeline import naming

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _command(*args: str) -> list[str]:
    return [PYTHON, "-m", *args]


def _emulator_cpu(emulator: Emulator):
    def read() -> float:
        fields = Path(f"/proc/{emulator.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    return read


def _env(scenario_env: dict[str, str], home: str) -> dict[str, str]:
    return {**os.environ, **scenario_env, "DAGSTER_HOME": home}


def _last_json(line: str) -> dict:
    try:
        return json.loads(line)
    except ValueError:
        return {}


def _pair(scenario: stacks.Scenario, home: str, runs: int, emulator: Emulator, timeout: float, *flags: str):
    """Pipeline vs baseline as whole processes; the two get their own environment through ``env`` in argv."""
    event = scenario.event_json()
    pipeline = ("pipeline", _command("bench.invoke", *flags, event))
    baseline = ("baseline", ["env", *(f"{k}={v}" for k, v in scenario.baseline_env.items()),
                             *_command("bench.invoke", "--baseline", *flags, event)])  # fmt: skip
    return harness.measure(pipeline, baseline, _env(scenario.pipeline_env, home), str(ROOT), runs=runs,
                           timeout=timeout, observe=_emulator_cpu(emulator))  # fmt: skip


def _same_outputs(emulator: Emulator, scenario: stacks.Scenario) -> outputs.Comparison:
    windows = {naming.window_sk(w) for w in stacks.windows_of(scenario.event)}
    session = emulator.session()
    theirs = outputs.scan(session, emulator.endpoint_url, scenario.baseline_env["CW_METRICS_TABLE"], windows)
    ours = outputs.scan(session, emulator.endpoint_url, scenario.pipeline_env["CW_METRICS_TABLE"], windows)
    return outputs.compare(ours, theirs)


def seed_stack(runs: int, results: dict) -> None:
    with running_emulator() as emulator, tempfile.TemporaryDirectory(prefix="cw-bench-") as home:
        started = time.monotonic()
        scheduled, backfill = stacks.seed_stack(emulator, datetime.now(UTC))
        results["seed_publish_s"] = time.monotonic() - started
        results["import"] = _pair(scheduled, home, runs, emulator, 120, "--import-only")
        # First with nothing stored before the run's windows (a new deployment), then, once the backfill has
        # stored 7 days, at steady state: every scheduled run of a deployment older than 3 days reads a full
        # SLO history (the pipeline 13 blocks per API and function, the baseline 864 aggregates each).
        results["cold"] = _pair(scheduled, home, runs, emulator, 300)
        results["seed_outputs"] = _same_outputs(emulator, scheduled)
        results["warm"] = _warm(scheduled, home, runs)
        floor = subprocess.run(_command("bench.dagster_floor", "--runs", str(max(runs, 7))), env=_env({}, home),
                               cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
        results["floor"] = json.loads(floor.stdout.strip().splitlines()[-1])
        # The same job with assets doing nothing, as a whole process: imports, the instance, one cold run.
        cold_floor = ("floor", _command("bench.dagster_floor", "--runs", "0"))
        results["cold_floor"] = harness.measure(cold_floor, None, _env({}, home), str(ROOT), runs=runs, timeout=120)
        floor = subprocess.run(
            _command("bench.dagster_floor", "--runs", "3", "--windows", str(backfill.windows)),
            env=_env({}, home), cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        results["backfill_floor"] = json.loads(floor.stdout.strip().splitlines()[-1])
        results["backfill"] = _pair(backfill, home, runs, emulator, 900)
        results["backfill_windows"] = backfill.windows
        results["cold_steady"] = _pair(scheduled, home, runs, emulator, 300)
        results["seed_steady_outputs"] = _same_outputs(emulator, scheduled)
        results["warm_steady"] = _warm(scheduled, home, runs)


def _warm(scheduled: stacks.Scenario, home: str, runs: int) -> dict:
    warm = subprocess.run(
        _command("bench.warm", "--invocations", str(max(runs, 7)), scheduled.event_json(),
                 json.dumps(scheduled.pipeline_env), json.dumps(scheduled.baseline_env)),
        env=_env(scheduled.pipeline_env, home), cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(warm.stdout.strip().splitlines()[-1])


def large_estate(runs: int, results: dict) -> None:
    with running_emulator() as emulator, tempfile.TemporaryDirectory(prefix="cw-bench-") as home:
        started = time.monotonic()
        scenario, fleet = stacks.large_estate(emulator, datetime.now(UTC))
        results["estate_publish_s"] = time.monotonic() - started
        results["estate_resources"] = fleet.count()
        results["estate"] = _pair(scenario, home, runs, emulator, 900)
        results["estate_outputs"] = _same_outputs(emulator, scenario)
        results["estate_calls"] = [_last_json(line).get("calls", {}) for line in results["estate"].a.outputs]
        results["estate_baseline_calls"] = [_last_json(line).get("calls", {}) for line in results["estate"].b.outputs]
        results["estate_summary"] = _last_json(results["estate"].a.outputs[-1]).get("summary", {})
        started = time.monotonic()
        steady, results["steady_blocks"] = stacks.steady_estate(emulator, fleet, scenario)
        results["steady_seed_s"] = time.monotonic() - started
        command = ("pipeline", _command("bench.invoke", steady.event_json()))
        results["steady"] = harness.measure(command, None, _env(steady.pipeline_env, home), str(ROOT), runs=runs,
                                            timeout=900, observe=_emulator_cpu(emulator))  # fmt: skip
        results["steady_calls"] = _last_json(results["steady"].a.outputs[-1]).get("calls", {})


def api_load(results: dict) -> None:
    completed = subprocess.run(
        [PYTHON, "bench/api_load.py", "--requests", "2000", "--workers", "1", "2", "--max-seconds", "60"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    results["api"] = (completed.stdout + completed.stderr[-2000:]).strip()


def compile_bytecode() -> None:
    paths = [sysconfig.get_paths()["purelib"], str(ROOT / "cw_pipeline"), str(ROOT / "bench"), str(ROOT / "cw_local")]
    subprocess.run([PYTHON, "-m", "compileall", "-q", "-j", "0", *paths], check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs of every whole-process figure (>= 5)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--skip-api", action="store_true", help="leave out the API load test (needs PostgreSQL)")
    args = parser.parse_args()
    results: dict = {"machine_before": report.machine(), "started": datetime.now(UTC)}
    compile_bytecode()
    for step in (seed_stack, large_estate):
        print(f"bench: {step.__name__} ...", flush=True)
        step(args.runs, results)
    if not args.skip_api:
        print("bench: api_load ...", flush=True)
        api_load(results)
    results["machine_after"] = report.machine()
    Path(args.output).write_text(report.render(results, args.runs))
    print(f"bench: wrote {args.output}")


if __name__ == "__main__":
    main()
