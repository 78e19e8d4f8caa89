"""The run metrics of `cw_pipeline.telemetry`, published by whoever runs the job (Powertools EMF on stdout).

`recorded_run` wraps one run: when the block ends it prints one EMF JSON line with ``RunSucceeded`` or
``RunFailed`` (1) and ``RunDuration`` (milliseconds), under ``telemetry.run_dimensions(env, launcher)``.
CloudWatch Logs turns the line into metrics (the Lambda's log group, or an ECS task's awslogs group): no
PutMetricData call, no permission, no extra latency. The line is printed before an exception leaves the
block, so a failed run is counted even though the invocation then fails.

``POWERTOOLS_METRICS_DISABLED=true`` turns the line off (Powertools' own switch; the demo sets it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from cw_pipeline import telemetry


def _metrics() -> Metrics:
    # A provider of our own: `Metrics()` shares its metric set with every other instance in the process, and
    # an empty service keeps Powertools from adding a `service` dimension, which would make these metrics
    # other CloudWatch metrics than the ones the dashboard graphs (exactly `telemetry.run_dimensions`).
    return Metrics(provider=AmazonCloudWatchEMFProvider(namespace=telemetry.NAMESPACE, service=""))


@contextmanager
def recorded_run(env: str, launcher: str = telemetry.LAUNCHER_LAMBDA) -> Iterator[None]:
    """Publish the outcome and duration of the run inside the block: failed if an exception leaves it."""
    dimensions = telemetry.run_dimensions(env, launcher)  # a bad launcher fails before the run, not after
    started = time.perf_counter()
    succeeded = False
    try:
        yield
        succeeded = True
    finally:
        metrics = _metrics()
        for name, value in dimensions.items():
            metrics.add_dimension(name=name, value=value)
        metrics.add_metric(
            name=telemetry.RUN_SUCCEEDED if succeeded else telemetry.RUN_FAILED, unit=MetricUnit.Count, value=1
        )
        duration_ms = (time.perf_counter() - started) * 1000
        metrics.add_metric(name=telemetry.RUN_DURATION, unit=MetricUnit.Milliseconds, value=round(duration_ms))
        metrics.flush_metrics()
