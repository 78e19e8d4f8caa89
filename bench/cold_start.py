"""Cold start of the aggregator Lambda: ``import cw_pipeline.lambda_handler`` plus its first run, then a warm run.

Each sample is a fresh Python process (as a new Lambda execution environment is): it times the import of
the handler module first, with nothing imported before it, then starts in-process moto (untimed), publishes
an hour of Lambda metrics and times the first and a second handler invocation over a scheduled event.

    .venv/bin/python bench/cold_start.py [--samples 3]

Prints one line per sample and the medians. Not a test: figures depend on the machine (docs/lambda.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENT = {"scheduled_time": "2026-11-20T12:12:00Z"}
NOW = "2026-11-20T14:00:00+00:00"
FUNCTION_NAME = "cw-analytics-bench-aggregator"
ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": FUNCTION_NAME,
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "CW_ENV": "dev",
    "CW_API_NAMES": "orders-api",
    "CW_FUNCTION_NAMES": "orders-handler",
    "CW_DB_INSTANCE_IDS": "orders-db",
}


def child() -> None:
    """One sample; prints a JSON line of timings in milliseconds."""
    started = time.perf_counter()
    import cw_pipeline.runtime.handler as lambda_handler

    imported = time.perf_counter()

    from datetime import datetime, timedelta

    import boto3
    from moto import mock_aws

    from cw_local import percentiles
    from cw_local.fakes import FakeLambdaContext
    from cw_local.provision import provision

    percentiles.install()
    with mock_aws():
        session = boto3.Session()
        resources = provision(session)
        os.environ["CW_METRICS_TABLE"] = resources.table_name
        os.environ["CW_ALERTS_TOPIC_ARN"] = resources.topic_arn
        cloudwatch = session.client("cloudwatch")
        start = datetime.fromisoformat("2026-11-20T11:00:00+00:00")
        for minute in range(0, 75):
            cloudwatch.put_metric_data(
                Namespace="AWS/Lambda",
                MetricData=[
                    {
                        "MetricName": "Invocations",
                        "Dimensions": [{"Name": "FunctionName", "Value": "orders-handler"}],
                        "Timestamp": start + timedelta(minutes=minute),
                        "Value": 10.0,
                    }
                ],
            )
        lambda_handler.now_utc = lambda: datetime.fromisoformat(NOW)
        first_started = time.perf_counter()
        first = lambda_handler.handler(EVENT, FakeLambdaContext(function_name=FUNCTION_NAME))
        first_done = time.perf_counter()
        lambda_handler.handler(EVENT, FakeLambdaContext(function_name=FUNCTION_NAME))
        warm_done = time.perf_counter()
    print(
        json.dumps(
            {
                "import_ms": round((imported - started) * 1000),
                "first_run_ms": round((first_done - first_started) * 1000),
                "cold_start_ms": round((imported - started + first_done - first_started) * 1000),
                "warm_run_ms": round((warm_done - first_done) * 1000),
                "windows": first["windows"],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return

    from cw_local.fakes import DUMMY_AWS_ENVIRONMENT

    samples = []
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as home:
        environment = {**os.environ, **DUMMY_AWS_ENVIRONMENT, **ENVIRONMENT, "DAGSTER_HOME": home}
        for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "CW_DAGSTER_PG_URL", "CW_DAGSTER_PG_SECRET_ARN"):
            environment.pop(variable, None)
        for index in range(args.samples):
            output = subprocess.run(
                [sys.executable, "-W", "ignore", __file__, "--child"],
                env=environment,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            sample = json.loads(output.strip().splitlines()[-1])
            samples.append(sample)
            print(f"sample {index + 1}: {json.dumps(sample)}")

    cores, memory = os.cpu_count(), _memory_gib()
    print(f"machine: {platform.machine()}, {cores} cores, {memory} GiB, Python {platform.python_version()}")
    for key in ("import_ms", "first_run_ms", "cold_start_ms", "warm_run_ms"):
        print(f"median {key}: {statistics.median(s[key] for s in samples)}")


def _memory_gib() -> str:
    try:
        total_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        return "?"
    return f"{total_kib / 1024 / 1024:.0f}"


if __name__ == "__main__":
    main()
