"""The run lease (`cw_pipeline.lease`) around each step of a run: taken by its first step, renewed by
every step, released after its last step or as soon as a step fails.

The holder is the Dagster run id, shared by every step of a run whatever the executor (in-process on
Lambda, one process per step under the daemon), so a run's later steps renew the lease its first step
took, and another run's first step fails before any CloudWatch call or write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dagster import AssetExecutionContext

from cw_pipeline.defs.metric_store import MetricStore
from cw_pipeline.defs.resources import PipelineClock

# The assets of a run in execution order (each depends on the one before).
STEPS = ("cloudwatch_datapoints", "metric_aggregates", "alert_evaluations", "slo_burn_rates")


def is_last_step(context: AssetExecutionContext) -> bool:
    """Whether no later step of ``STEPS`` runs after this one in this run.

    The run's steps are its ``step_keys_to_execute`` (a re-execution from failure, and every in-process run),
    or else every node of the job as the run selected it. Not ``run.asset_selection``: an unselected run
    (the Lambda's, a schedule's) has an empty one, which once made every step look like the last and
    released the lease between steps, where another run could take it.
    """
    later = STEPS[STEPS.index(context.asset_key.to_user_string()) + 1 :]
    steps = context.run.step_keys_to_execute
    in_run = set(steps) if steps is not None else {node.name for node in context.job_def.nodes}
    return not in_run.intersection(later)


@contextlib.contextmanager
def step_lease(context: AssetExecutionContext, store: MetricStore, clock: PipelineClock) -> Iterator[None]:
    lease = store.take_lease(context.run_id, clock.now())
    context.log.debug(f"run lease on table {store.table_name} held until {lease.expiry}")
    try:
        yield
    except BaseException:
        _release(context, store)
        raise
    if is_last_step(context):
        _release(context, store)


def _release(context: AssetExecutionContext, store: MetricStore) -> None:
    # A lease that cannot be released expires by itself: never hide the step's own outcome behind it.
    try:
        if not store.release_lease(context.run_id):
            context.log.warning(f"the run lease on table {store.table_name} had expired and was taken by another run")
    except Exception as error:
        context.log.warning(f"could not release the run lease ({error}); it expires by itself")
