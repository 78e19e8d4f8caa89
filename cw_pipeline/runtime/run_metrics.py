"""The run metrics of `cw_pipeline.telemetry`, published by whoever runs the job (Powertools EMF on stdout).

`recorded_run` wraps one run: when the block ends it prints one EMF JSON line with ``RunSucceeded``,
``RunFailed`` or ``RunBlocked`` (1) and ``RunDuration`` (milliseconds), under
``telemetry.run_dimensions(env, launcher)``. CloudWatch Logs turns the line into metrics (the Lambda's log
group, or an ECS task's awslogs group): no PutMetricData call, no permission, no extra latency. The line is
printed before an exception leaves the block, so a failed run is counted even though the invocation then fails.

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
def recorded_run(
    env: str, launcher: str = telemetry.LAUNCHER_LAMBDA, blocked: tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """Publish the outcome and duration of the run inside the block: blocked if one of ``blocked`` leaves it
    (another run held the lease), failed if any other exception does."""
    dimensions = telemetry.run_dimensions(env, launcher)  # a bad launcher fails before the run, not after
    started = time.perf_counter()
    outcome = telemetry.RUN_FAILED
    try:
        yield
        outcome = telemetry.RUN_SUCCEEDED
    except blocked:
        outcome = telemetry.RUN_BLOCKED
        raise
    finally:
        metrics = _metrics()
        for name, value in dimensions.items():
            metrics.add_dimension(name=name, value=value)
        metrics.add_metric(name=outcome, unit=MetricUnit.Count, value=1)
        duration_ms = (time.perf_counter() - started) * 1000
        metrics.add_metric(name=telemetry.RUN_DURATION, unit=MetricUnit.Milliseconds, value=round(duration_ms))
        metrics.flush_metrics()
