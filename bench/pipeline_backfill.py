"""Benchmark: a single-run backfill of the pipeline job over a day of generated workload.

Runs in-process against moto (with the percentile support), so the figures measure the pipeline's own
work (query building, pandas aggregation, evaluation, item conversion) plus moto's, not AWS latency.
Reports wall time per step, the AWS calls the run made and the process's peak memory.

    .venv/bin/python bench/pipeline_backfill.py [--hours 24] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta

os.environ.update(
    AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1"
)
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import boto3
    from dagster import DagsterInstance
    from moto import mock_aws

    from cw_local import percentiles, workload
    from cw_local.fakes import counting_api_calls
    from cw_local.provision import provision
    from cw_pipeline.config import Settings
    from cw_pipeline.definitions import build_definitions
    from cw_pipeline.defs.jobs import JOB_NAME
    from cw_pipeline.defs.partitions import range_tags
    from cw_pipeline.windows import windows_between

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    end = now - timedelta(minutes=now.minute % 5)
    start = end - timedelta(hours=args.hours)
    windows = windows_between(start, end)

    percentiles.install()
    timings: dict[str, float] = {}
    with mock_aws(), tempfile.TemporaryDirectory() as work_dir:
        session = boto3.Session()
        resources = provision(session)
        settings = Settings.from_env(
            {"CW_METRICS_TABLE": resources.table_name, "CW_ALERTS_TOPIC_ARN": resources.topic_arn}
        )
        clock = time.perf_counter()
        generated = workload.generate(start, end, seed=args.seed, incident=workload.Incident(start + (end - start) / 2))
        timings["generate"] = time.perf_counter() - clock
        clock = time.perf_counter()
        workload.publish(generated, session.client("cloudwatch"))
        timings["publish to moto"] = time.perf_counter() - clock

        defs = build_definitions(settings, now, work_dir=work_dir)
        clock = time.perf_counter()
        with counting_api_calls() as calls:
            result = defs.resolve_job_def(JOB_NAME).execute_in_process(
                tags=range_tags(windows), instance=DagsterInstance.ephemeral()
            )
        timings["pipeline run (one run)"] = time.perf_counter() - clock
        assert result.success

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"backfill: {len(windows)} windows ({args.hours} h), {len(generated.datapoints)} one-minute datapoints")
    for step, seconds in timings.items():
        print(f"  {step:<24} {seconds:7.2f} s")
    print(f"  per window               {1000 * timings['pipeline run (one run)'] / len(windows):7.1f} ms")
    per_operation = sorted((call.operation, count) for call, count in calls.items())
    print("AWS calls made by the run: " + ", ".join(f"{operation} {count}" for operation, count in per_operation))
    print(f"peak memory (max RSS): {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
