"""The emulator itself killed in the middle of a run: AWS gone, then back with what it had stored.

moto keeps its state in memory, so a killed emulator loses it, where AWS would not: the hook that kills
it first copies the table and drains the topic's queue, and the restarted emulator (same port) gets the
table back, as a durable service would have kept it.
"""

from __future__ import annotations

import signal

from reliability_support import (
    AFTER_LEASE_EXPIRY,
    EXPECTED_NOTIFICATIONS,
    Counter,
    World,
    converge,
    failure,
    faults,
    ids,
    point_at,
    sent,
)

from cw_local.emulator import running_emulator


def raw_items(world: World) -> list[dict]:
    table = world.session.resource("dynamodb").Table(world.emulator.resources.table_name)
    return table.scan(ConsistentRead=True)["Items"]  # a few dozen items: one page


def test_the_emulator_killed_after_a_publish_fails_the_run_and_the_rerun_converges(
    world, baseline, monkeypatch, tmp_path
):
    """Killed (SIGKILL) right after SNS accepted the third message: the record of that publish, and the
    lease release, meet a dead endpoint; botocore retries, then the run fails naming the call."""
    kept: dict = {}
    third = Counter(lambda n: n == 3)
    with running_emulator(port=0) as doomed:
        point_at(doomed, monkeypatch)
        before = World(doomed, tmp_path)
        before.reset()

        def kill(**_kwargs) -> None:
            if third():
                kept.update(items=raw_items(before), notifications=before.notifications())
                doomed.stop(signal.SIGKILL)

        with faults(("after-call.sns.Publish", kill)):
            result = before.run()
    assert doomed.exit_code == -signal.SIGKILL
    assert "alert_evaluations: " in failure(result) and "Could not connect to the endpoint URL" in failure(result)
    assert len(kept["notifications"]) == 3
    holder = next(i["holder"] for i in kept["items"] if i["pk"] == "lease")  # a dead run cannot release it

    port = int(doomed.endpoint_url.rsplit(":", 1)[1])
    with running_emulator(port=port) as revived:
        after = World(revived, tmp_path)
        after.reset()  # provisioned again, the datapoints published again
        table = after.session.resource("dynamodb").Table(revived.resources.table_name)
        with table.batch_writer() as batch:
            for item in kept["items"]:
                batch.put_item(Item=item)

        blocked = after.run()  # within the dead run's lease
        assert f"run {holder}" in failure(blocked) and "holds the lease" in failure(blocked)
        everything = converge(after, baseline, kept["notifications"], clock=AFTER_LEASE_EXPIRY)
    assert (
        sorted(set(sent(everything))) == EXPECTED_NOTIFICATIONS and len(everything) == len(EXPECTED_NOTIFICATIONS) + 1
    )  # one duplicate
    assert [i for i in ids(everything) if ids(everything).count(i) == 2] == [ids(kept["notifications"])[2]] * 2
