"""Load benchmark of the interactions API handler against the local PostgreSQL (not a test).

Sustained requests go through the real Lambda handler (``interactions_api.app.handler``), each
worker process standing for one Lambda execution environment with its own connection. The table is
first seeded with one day of traffic (100k rows) so list and stats queries see a realistic size.
Prints p50/p95/p99 handler latency per route and overall, and throughput, compared with the
workload the seed sizes the system for: 100k interactions a day (about 1.2 requests per second on
average) and a 50 requests-per-second peak.

    make bench-api
    .venv/bin/python bench/api_load.py --requests 4000 --workers 1 2 --max-seconds 60
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import random
import statistics
import sys
import time
from collections import defaultdict

DAILY_INTERACTIONS = 100_000
AVERAGE_RPS = DAILY_INTERACTIONS / 86_400
PEAK_RPS = 50.0
TYPES = ["page_view", "click", "search", "add_to_cart", "purchase", "signup"]
# Request mix: the API mostly records interactions; reads are dashboards and lookups.
MIX = [("POST /interactions", 0.5), ("GET /interactions", 0.25), ("GET /interactions/{id}", 0.15),
       ("GET /interactions/stats", 0.05), ("GET /health", 0.05)]  # fmt: skip


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def seed(dsn: str, rows: int) -> None:
    import psycopg

    from interactions_api import migrations

    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.apply(conn)
        conn.execute("TRUNCATE interactions RESTART IDENTITY")
        # One day of traffic spread over the last 24 hours, 2,000 users, the six types.
        conn.execute(
            "INSERT INTO interactions (user_id, type, payload, occurred_at)"
            " SELECT 'user-' || (g %% 2000), (%s::text[])[1 + g %% 6], jsonb_build_object('n', g),"
            "        now() - (g * interval '86400 seconds' / %s)"
            " FROM generate_series(1, %s) AS g",
            (TYPES, rows, rows),
        )
        conn.execute("ANALYZE interactions")


def worker(worker_id: int, requests: int, deadline: float, results: mp.Queue) -> None:
    # Handler logs and EMF metrics go to stdout as in Lambda; keep them off the report.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    from cw_local.api_server import local_context, to_proxy_event
    from interactions_api.app import handler

    rng = random.Random(worker_id)
    json_header = [("Content-Type", "application/json")]
    known_ids = list(range(1, 1000))
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[int, int] = defaultdict(int)
    routes, weights = zip(*MIX, strict=True)
    started = time.perf_counter()
    done = 0
    while done < requests and time.perf_counter() < deadline:
        route = rng.choices(routes, weights)[0]
        if route == "POST /interactions":
            body = (
                f'{{"user_id":"user-{rng.randrange(2000)}","type":"{rng.choice(TYPES)}",'
                f'"payload":{{"page":"/p/{rng.randrange(500)}","ms":{rng.randrange(5000)}}}}}'
            )
            event = to_proxy_event("POST", "/interactions", json_header, body.encode())
        elif route == "GET /interactions":
            event = to_proxy_event("GET", f"/interactions?user_id=user-{rng.randrange(2000)}&limit=20", [], b"")
        elif route == "GET /interactions/{id}":
            event = to_proxy_event("GET", f"/interactions/{rng.choice(known_ids)}", [], b"")
        elif route == "GET /interactions/stats":
            event = to_proxy_event("GET", "/interactions/stats", [], b"")
        else:
            event = to_proxy_event("GET", "/health", [], b"")
        t0 = time.perf_counter()
        result = handler(event, local_context())
        latencies[route].append((time.perf_counter() - t0) * 1000)
        statuses[int(result["statusCode"])] += 1
        done += 1
    results.put((dict(latencies), dict(statuses), time.perf_counter() - started))


def run(workers: int, requests: int, max_seconds: float) -> dict:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    deadline_offset = max_seconds
    procs = []
    wall_start = time.perf_counter()
    for worker_id in range(workers):
        # perf_counter is per-process monotonic; each worker gets its own budget from its start.
        proc = ctx.Process(target=_worker_entry, args=(worker_id, requests // workers, deadline_offset, queue))
        proc.start()
        procs.append(proc)
    outputs = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    wall = time.perf_counter() - wall_start
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[int, int] = defaultdict(int)
    busy = 0.0
    for lat, st, elapsed in outputs:
        for route, values in lat.items():
            latencies[route] += values
        for code, count in st.items():
            statuses[code] += count
        busy = max(busy, elapsed)
    return {"workers": workers, "latencies": latencies, "statuses": statuses, "elapsed": busy, "wall": wall}


def _worker_entry(worker_id: int, requests: int, max_seconds: float, queue: mp.Queue) -> None:
    worker(worker_id, requests, time.perf_counter() + max_seconds, queue)


def report(result: dict) -> None:
    all_latencies = sorted(v for values in result["latencies"].values() for v in values)
    count = len(all_latencies)
    throughput = count / result["elapsed"] if result["elapsed"] else 0.0
    print(f"\n== {result['workers']} worker(s) (= concurrent Lambda execution environments) ==")
    print(f"requests: {count} in {result['elapsed']:.1f} s; statuses: {dict(sorted(result['statuses'].items()))}")
    print(f"{'route':<26}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for route, _ in MIX:
        values = sorted(result["latencies"].get(route, []))
        print(
            f"{route:<26}{len(values):>7}{percentile(values, 0.5):>9.2f}"
            f"{percentile(values, 0.95):>9.2f}{percentile(values, 0.99):>9.2f}"
        )
    print(
        f"{'all':<26}{count:>7}{percentile(all_latencies, 0.5):>9.2f}"
        f"{percentile(all_latencies, 0.95):>9.2f}{percentile(all_latencies, 0.99):>9.2f}"
    )
    print(f"throughput: {throughput:.0f} requests/s (mean handler time {statistics.fmean(all_latencies):.2f} ms)")
    print(f"  vs 100k/day average ({AVERAGE_RPS:.2f} rps): x{throughput / AVERAGE_RPS:,.0f}")
    print(f"  vs {PEAK_RPS:.0f} rps peak: x{throughput / PEAK_RPS:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per run (split across workers)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time bound per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="concurrency levels to run")
    parser.add_argument("--seed-rows", type=int, default=DAILY_INTERACTIONS)
    parser.add_argument(
        "--dsn",
        default=os.environ.get("BENCH_DB_DSN", "postgresql://postgres@127.0.0.1:5432/cw_api_bench"),
        help="database to use (created if missing, its interactions table is emptied)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 100_000 or not 0 < args.max_seconds <= 600:
        parser.error("keep the benchmark bounded: --requests 1..100000, --max-seconds up to 600")

    from cw_local.api_server import ensure_database

    os.environ["DB_DSN"] = args.dsn
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "cw-analytics-bench-api")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "CwAnalytics/Bench")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
    ensure_database(args.dsn)
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}")
    print(f"database: {args.dsn} (PostgreSQL on the same machine); seeding {args.seed_rows:,} rows over 24 h")
    seed(args.dsn, args.seed_rows)
    for workers in args.workers:
        report(run(workers, args.requests, args.max_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
