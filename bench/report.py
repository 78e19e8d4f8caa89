"""docs/benchmarks.md from one `make bench` run: the machine, the commands, each figure beside its baseline,
its target and the ratio, then the profile notes (bench/where_the_time_goes.md) and the API load test."""

from __future__ import annotations

import platform
import statistics
import subprocess
from pathlib import Path

from bench.harness import Comparison

NOTES = Path(__file__).with_name("where_the_time_goes.md")


def machine() -> dict[str, str]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor() or "unknown",
    )  # fmt: skip
    return {
        "cpu": cpu,
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "free": subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.rstrip(),
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def _spread(values: list[float], unit: str, digits: int = 2) -> str:
    median = statistics.median(values)
    return f"**{median:.{digits}f} {unit}** ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _ratio(comparison: Comparison, figure: str) -> str:
    ratios = comparison.ratios(figure)
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else "n/a"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _cpu(runs) -> list[float]:
    return [s["user_s"] + s["sys_s"] for s in runs.samples]


def _rows(results: dict) -> list[str]:
    rows = []

    def whole(label: str, comparison: Comparison, target: str, ok: bool | None, figure: str = "wall_s") -> None:
        a, b = comparison.a, comparison.b
        unit, digits = ("MiB", 0) if figure == "max_rss_mib" else ("s", 2)
        values_a = _cpu(a) if figure == "cpu_s" else [s[figure] for s in a.samples]
        values_b = _cpu(b) if figure == "cpu_s" else [s[figure] for s in b.samples]
        ratio = (
            f"{statistics.median(x / y for x, y in zip(values_a, values_b, strict=True)):.2f}x"
            if figure == "cpu_s"
            else _ratio(comparison, figure)
        )
        verdict = "" if ok is None else _met(ok)
        rows.append(f"| {label} | {_spread(values_a, unit, digits)} | {_spread(values_b, unit, digits)} | {ratio} "
                    f"| {target} | {verdict} |")  # fmt: skip

    imp, estate, backfill = results["import"], results["estate"], results["backfill"]
    whole("Init: import of the handler, whole process", imp, "≤ 5 s (Init's cap: 10 s)", imp.a.median("wall_s") <= 5)

    def cold_and_warm(when: str, cold: Comparison, warm: dict) -> None:
        whole(f"Seed stack, cold scheduled run (2 windows), {when}, whole process: wall", cold, "≤ 3 s",
              cold.a.median("wall_s") <= 3)  # fmt: skip
        whole("… CPU (user + system)", cold, "", None, "cpu_s")
        whole("… peak memory (RSS)", cold, "", None, "max_rss_mib")
        warm_a, warm_b = warm["pipeline_ms"], warm["baseline_ms"]
        ratio = [x / y for x, y in zip(warm_a, warm_b, strict=True)]
        median = statistics.median(ratio)
        rows.append(f"| Seed stack, warm invocation, {when} (in-process, {len(warm_a)} pairs) "
                    f"| {_spread(warm_a, 'ms', 0)} | {_spread(warm_b, 'ms', 0)} | {median:.2f}x "
                    f"({min(ratio):.2f}-{max(ratio):.2f}) | ≤ 1.5x | {_met(median <= 1.5)} |")  # fmt: skip

    cold_and_warm("empty table", results["cold"], results["warm"])
    cold_floor = _spread([s["wall_s"] for s in results["cold_floor"].a.samples], "s")
    rows.append("| … of which Dagster's cold floor (whole process: imports, instance, one run of the same job, "
                f"assets doing nothing) | {cold_floor} | — | — | — | |")  # fmt: skip
    floor = results["floor"]["floor_ms"]
    rows.append(f"| … of which Dagster's per-run floor (same job, assets doing nothing) | {_spread(floor, 'ms', 0)} "
                "| — | — | — | |")  # fmt: skip
    cold_and_warm("steady state (7 days stored)", results["cold_steady"], results["warm_steady"])
    estate_ok = estate.a.median("wall_s") <= 30
    whole(f"Estate of {results['estate_resources']:,} resources, scheduled run (2 windows): wall", estate,
          "≤ 30 s and ≤ 0.5x", estate_ok and (estate.median_ratio("wall_s") or 9) <= 0.5)  # fmt: skip
    whole("… CPU (user + system)", estate, "", None, "cpu_s")
    whole("… peak memory (RSS)", estate, "≤ 512 MiB", estate.a.median("max_rss_mib") <= 512, "max_rss_mib")
    emulator = [s["other_cpu_s"] for s in estate.a.samples], [s["other_cpu_s"] for s in estate.b.samples]
    rows.append(f"| … the emulator's CPU during the run | {_spread(emulator[0], 's')} | {_spread(emulator[1], 's')} "
                "| | | |")  # fmt: skip
    calls, baseline_calls = results["estate_calls"][-1], results["estate_baseline_calls"][-1]
    gmd = calls.get("GetMetricData", 0)
    rows.append(
        f"| … GetMetricData calls | {gmd} | {baseline_calls.get('GetMetricData', 0)} | | ≤ 18 | {_met(gmd <= 18)} |"
    )
    dynamo = sorted({*calls, *baseline_calls} & {"BatchGetItem", "BatchWriteItem", "Query"})
    rows.append("| … DynamoDB calls | " + ", ".join(f"{op} {calls.get(op, 0)}" for op in dynamo) + " | "
                + ", ".join(f"{op} {baseline_calls.get(op, 0)}" for op in dynamo) + " | | | |")  # fmt: skip
    rows.append(f"| … discovery calls (ListMetrics) | {calls.get('ListMetrics', 0)} | "
                f"{baseline_calls.get('ListMetrics', 0)} | | | |")  # fmt: skip
    steady = results["steady"].a
    rows.append(f"| Estate at steady state (3 days of SLO history stored: {results['steady_blocks']:,} blocks), "
                f"scheduled run: wall | {_spread([s['wall_s'] for s in steady.samples], 's')} | — (pipeline only) "
                f"| | ≤ 30 s | {_met(steady.median('wall_s') <= 30)} |")  # fmt: skip
    rows.append(f"| … CPU (user + system) | {_spread(_cpu(steady), 's')} | | | | |")
    peak = steady.median("max_rss_mib")
    rows.append(f"| … peak memory (RSS) | {_spread([s['max_rss_mib'] for s in steady.samples], 'MiB', 0)} | | "
                f"| ≤ 512 MiB | {_met(peak <= 512)} |")  # fmt: skip
    steady_calls = results["steady_calls"]
    rows.append("| … DynamoDB calls | " + ", ".join(f"{op} {steady_calls.get(op, 0)}" for op in dynamo) + " | | | | |")
    whole(f"Seed stack, {results['backfill_windows']:,}-window (7-day) backfill, one run: wall", backfill, "≤ 60 s",
          backfill.a.median("wall_s") <= 60)  # fmt: skip
    floor = [ms / 1000 for ms in results["backfill_floor"]["floor_ms"]]
    rows.append(f"| … of which Dagster's per-run floor (same job, assets doing nothing, warm) | {_spread(floor, 's')} "
                "| — | — | — | |")  # fmt: skip
    whole("… CPU (user + system)", backfill, "", None, "cpu_s")
    whole("… peak memory (RSS)", backfill, "", None, "max_rss_mib")
    return rows


def _same(label: str, comparison) -> str:
    kinds = ", ".join(f"{count:,} {kind}s" for kind, count in comparison.kinds.items())
    if comparison.identical:
        return f"- {label}: the {comparison.compared:,} items ({kinds}) of the pipeline and the baseline are identical."
    one_side = ", ".join(f"{count:,} {kind}s" for kind, count in comparison.one_side_kinds.items())
    return (f"- {label}: {comparison.compared:,} items compared ({kinds}), {len(comparison.differing)} differ, "
            f"{comparison.only_one_side} on one side only ({one_side}): {'; '.join(comparison.differing)}")  # fmt: skip


def render(results: dict, runs: int) -> str:
    before, after = results["machine_before"], results["machine_after"]
    estate = results["estate_summary"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`bench/run_all.py`) on {results['started']:%Y-%m-%d %H:%M} UTC. Every",
        f"whole-process figure is the median of {runs} runs after one uncounted warm-up, pipeline and baseline",
        "alternating (A B A B …); ranges are min-max; ratios are pipeline / baseline, pair by pair, then the median.",
        "The baseline is `bench/baseline/aggregator.py`, a deliberately simple plain-boto3 aggregator with the same",
        "inputs and outputs. AWS is the local emulator (`cw_local.emulator`: moto with an indexed GetMetricData and",
        "ListMetrics, one-partition DynamoDB Queries, item paths and answers without moto's generic walks, and",
        "kept-alive connections), so network latency is ~0 and these figures are CPU: the pipeline's, the",
        "baseline's and the emulator's, on a 2-core machine whose speed itself varies (see the notes at the end).",
        "",
        "## The machine",
        "",
        f"- CPU: {before['cpu']}; `nproc`: {before['nproc']}; Python {before['python']}; kernel {before['kernel']}",
        f"- load before: `{before['uptime']}`",
        f"- load after: `{after['uptime']}`",
        "",
        "```",
        before["free"],
        "```",
        "",
        "## Commands",
        "",
        "- `make bench` runs `python -m bench.run_all --runs 5`, which compiles bytecode first (as the image's pip",
        "  does).",
        "- pipeline, whole process: `python -m bench.invoke EVENT` (imports `cw_pipeline.runtime.handler`, one event);",
        "  baseline: `python -m bench.invoke --baseline EVENT`; Init: the same with `--import-only`.",
        "- warm: `python -m bench.warm EVENT PIPELINE_ENV BASELINE_ENV` (both in one process, alternating);",
        "  Dagster's floor: `python -m bench.dagster_floor`.",
        f"- data: the seed stack's 7 days and 1 hour published in {results['seed_publish_s']:.0f} s; the estate's last",
        f"  20 minutes in {results['estate_publish_s']:.0f} s (`bench/stacks.py`, `cw_local/estate.py`); the steady",
        f"  state's 3 days of SLO history ({results['steady_blocks']:,} six-hour blocks) written in "
        f"{results['steady_seed_s']:.0f} s.",
        "",
        "## Figures",
        "",
        "| figure | pipeline | baseline | ratio | target | |",
        "| --- | --- | --- | --- | --- | --- |",
        *_rows(results),
        "",
        _same("Seed stack, scheduled windows, empty table", results["seed_outputs"]),
        _same(
            "Seed stack, scheduled windows, steady state (burn rates over 3 days of history)",
            results["seed_steady_outputs"],
        ),
        _same("Estate, scheduled windows", results["estate_outputs"]),
        f"- Estate run summary (last run): {estate.get('aggregates_written')} aggregates, "
        f"{estate.get('evaluations_written')} evaluations, {estate.get('notifications_sent')} notifications.",
        "",
        NOTES.read_text().strip(),
        "",
    ]
    if results.get("api"):
        lines += ["## API load test (`bench/api_load.py`, local PostgreSQL)", "", "```", results["api"], "```", ""]
    return "\n".join(lines)
