"""The pipeline's own CloudWatch metrics: one namespace, names and dimensions shared by their emitters and readers.

Plain constants (no Dagster, no boto3): the aggregator Lambda publishes these (Powertools EMF,
`cw_pipeline.runtime.run_metrics`), the ECS run workers will, and the CDK dashboard graphs them
(infra_cdk/sections/control_plane_ops.py). A run is counted once, when it ends, under the launcher it ran
in, so failures of scheduled runs (Lambda) and of runs started from the Dagster UI (ECS tasks) are told apart.
"""

from __future__ import annotations

NAMESPACE = "cw-analytics/Pipeline"

RUN_FAILED = "RunFailed"  # count, 1 per run that ended in failure
RUN_SUCCEEDED = "RunSucceeded"  # count, 1 per run that ended in success
# count, 1 per invocation that found another run holding the run lease and did no work: Lambda retries it, so it
# is no failure (an alarm on RunFailed must not page for it), but a steady count means runs overlap.
RUN_BLOCKED = "RunBlocked"
RUN_DURATION = "RunDuration"  # milliseconds, per run, whatever its outcome

ENV_DIMENSION = "Environment"  # the resource-name suffix, e.g. "dev"
LAUNCHER_DIMENSION = "Launcher"

LAUNCHER_LAMBDA = "lambda"  # the aggregator Lambda: EventBridge-scheduled and hand-invoked runs
LAUNCHER_ECS = "ecs"  # an ECS run task: runs and backfills launched from the Dagster UI
LAUNCHERS = (LAUNCHER_LAMBDA, LAUNCHER_ECS)


def run_dimensions(env: str, launcher: str) -> dict[str, str]:
    """The dimensions of a run metric; ``launcher`` is one of ``LAUNCHERS``."""
    if launcher not in LAUNCHERS:
        raise ValueError(f"run metric launcher {launcher!r} is not one of {', '.join(LAUNCHERS)}")
    return {ENV_DIMENSION: env, LAUNCHER_DIMENSION: launcher}
