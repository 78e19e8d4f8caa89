"""Runs over the same windows at the same time, from any entry point (issue 10, failure 4).

The second run is started from inside the first, by a botocore hook at a chosen call of the first run,
and joined before the first goes on, so the overlap is certain; the last case races two aggregator
processes instead, with no control over who goes first.
"""

from __future__ import annotations

import threading

import pytest
from reliability_support import (
    ALL,
    EXPECTED_NOTIFICATIONS,
    W1,
    W2,
    W3,
    converge,
    failure,
    faults,
    ids,
    sent,
    start_child,
)


def started_inside(world, event: str, windows) -> tuple[list, tuple[str, callable]]:
    """A hook that, the first time ``event`` fires, runs the pipeline over ``windows`` in another thread
    and waits for it to finish; the list receives that run's result."""
    results: list = []

    def hook(**_kwargs) -> None:
        if results:
            return
        results.append(None)
        other = threading.Thread(target=lambda: results.__setitem__(0, world.run(windows)))
        other.start()
        other.join()

    return results, (event, hook)


def test_two_identical_backfills_together_send_each_transition_exactly_once(world, baseline):
    """The second backfill starts while the first is about to publish its first notification."""
    second, hook = started_inside(world, "before-call.sns.Publish", ALL)
    with faults(hook):
        first = world.run(ALL)
    assert first.success, failure(first)
    assert not second[0].success
    message = failure(second[0])
    assert message.startswith("cloudwatch_datapoints: cw_pipeline.lease.LeaseHeld: another pipeline run holds")
    assert f"run {first.run_id}, taken at 2026-11-20T13:30:07Z, expires at 2026-11-20T13:36:07Z" in message
    notifications = world.notifications()
    assert sent(notifications) == EXPECTED_NOTIFICATIONS  # exactly one per transition
    assert sorted(ids(notifications)) == baseline["ids"]

    assert converge(world, baseline, []) == []  # the refused backfill, run again, has nothing left to send


def test_overlapping_scheduled_runs_keep_previous_states_right(world, baseline):
    """The 12:10 run (W1, W2) is writing its aggregates when the 12:15 run (W2, W3) starts: the second is
    refused before any call; run again afterwards, it reads W2 as the first left it."""
    later, hook = started_inside(world, "before-send.dynamodb.BatchWriteItem", [W2, W3])
    with faults(hook):
        earlier = world.run([W1, W2])
    assert earlier.success and not later[0].success
    assert "holds the lease" in failure(later[0]) and f"run {earlier.run_id}" in failure(later[0])
    first = world.notifications()

    retried = world.run([W2, W3])
    assert retried.success, failure(retried)
    assert world.items() == baseline["items"]  # previous_state of W2 and W3 as one run over W1..W3 has them
    assert sent(first + world.notifications()) == EXPECTED_NOTIFICATIONS


@pytest.mark.parametrize("step", [2, 3, 4], ids=["metric_aggregates", "alert_evaluations", "slo_burn_rates"])
def test_a_run_started_between_two_steps_of_another_is_refused(world, baseline, step):
    """The lease is held from the first step of a run to its last, not released between steps: a second run
    started just before a later step renews it (that step's lease PutItem) is refused, and the first goes on."""
    results: list = []
    renewals = 0

    def between_steps(params, **_kwargs) -> None:
        nonlocal renewals
        if params.get("Item", {}).get("pk") != "lease":
            return
        renewals += 1
        if renewals == step:
            other = threading.Thread(target=lambda: results.append(world.run(ALL)))
            other.start()
            other.join()

    with faults(("provide-client-params.dynamodb.PutItem", between_steps)):
        first = world.run(ALL)
    assert renewals == 4 + 1  # the first run's take and three renewals, and the refused run's one attempt
    assert first.success, failure(first)
    assert not results[0].success
    assert f"holds the lease on table {world.emulator.resources.table_name}: run {first.run_id}" in failure(results[0])
    assert sent(world.notifications()) == EXPECTED_NOTIFICATIONS
    assert ("lease", "pipeline-run") not in world.items()  # released once, after the last step


def test_two_aggregator_processes_racing_send_each_transition_once(world, baseline):
    """Two Lambda invocations of the same backfill event at once (what a UI backfill and a retried event
    can amount to). Whichever takes the lease first sends everything; the other is refused, or finds
    nothing left to send if it starts after the first finished."""
    children = [start_child(world), start_child(world)]
    streams = [child.communicate(timeout=300) for child in children]
    outcomes = [(child.returncode, stderr) for child, (_stdout, stderr) in zip(children, streams, strict=True)]
    for returncode, stderr in outcomes:
        assert returncode == 0 or ("RunBlocked" in stderr and "holds the lease" in stderr), stderr[-2000:]
    assert any(returncode == 0 for returncode, _ in outcomes)
    notifications = world.notifications()
    assert sent(notifications) == EXPECTED_NOTIFICATIONS
    assert sorted(ids(notifications)) == baseline["ids"]
    assert ("lease", "pipeline-run") not in world.items()  # released by the winner, never taken by the loser
    assert converge(world, baseline, []) == []
