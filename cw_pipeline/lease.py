"""One pipeline run at a time per metrics table: a lease item taken with a conditional write.

Scope: the whole table, that is one environment. Scheduled runs re-read earlier windows, backfills
cover any range, and a window's evaluation reads its neighbour's state (``previous_state``), so runs
over "different" windows still share items; a lease per table is the simplest scope that is correct
whatever the entry point (the Lambda, the Dagster schedule, a UI backfill, the daemon).

The item: ``pk = "lease"``, ``sk = "pipeline-run"``, ``holder`` (the Dagster run id), ``taken_at``
and ``expires_at`` (epoch seconds). It is taken, or renewed by its holder, with a PutItem conditioned
on "absent, mine, or expired"; it is released with a DeleteItem conditioned on "mine". A run that
crashed (a killed process, a Lambda timeout) leaves its lease to expire: ``expires_at`` is also the
table's TTL attribute, so DynamoDB eventually deletes it, and the condition ignores it once past.

`LEASE_SECONDS` (6 minutes) outlives the aggregator Lambda's 5-minute timeout, so a live Lambda run
never loses its lease, and a crashed one blocks the next run for at most 6 minutes: the scheduled
invocation that finds it taken fails fast (`LeaseHeld`) and Lambda retries it a minute later. Every
step of a run renews the lease when it starts, so longer runs elsewhere (a UI backfill) keep it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from cw_pipeline import naming

LEASE_PK = naming.LEASE_PARTITION
LEASE_SK = "pipeline-run"
LEASE_SECONDS = 360


class LeaseHeld(RuntimeError):
    """Another run holds the lease; the message names it and when its lease expires."""


@dataclass(frozen=True)
class Lease:
    holder: str
    taken_at: str
    expires_at: int

    @property
    def expiry(self) -> str:
        return naming.window_sk(datetime.fromtimestamp(self.expires_at, UTC))


def _key() -> dict:
    return {naming.TABLE_PARTITION_KEY: LEASE_PK, naming.TABLE_SORT_KEY: LEASE_SK}


def take(table, run_id: str, now: datetime, seconds: int = LEASE_SECONDS) -> Lease:
    """Take the lease for ``run_id``, or renew it if ``run_id`` holds it; `LeaseHeld` if another run does."""
    now = now.astimezone(UTC).replace(microsecond=0)
    lease = Lease(run_id, naming.window_sk(now), int((now + timedelta(seconds=seconds)).timestamp()))
    try:
        table.put_item(
            Item={**_key(), "holder": lease.holder, "taken_at": lease.taken_at, "expires_at": lease.expires_at},
            ConditionExpression="attribute_not_exists(pk) OR holder = :me OR expires_at <= :now",
            ExpressionAttributeValues={":me": run_id, ":now": int(now.timestamp())},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        held = current(table)
        holder = f"run {held.holder}, taken at {held.taken_at}, expires at {held.expiry}" if held else "another run"
        raise LeaseHeld(
            f"another pipeline run holds the lease on table {table.name}: {holder}. Run {run_id} stops before "
            "doing any work: a scheduled run is retried later; start a backfill again once that run has finished "
            "(or its lease has expired, if it crashed)"
        ) from None
    return lease


def release(table, run_id: str) -> bool:
    """Release the lease if ``run_id`` holds it; False when it does not (it expired and was taken)."""
    try:
        table.delete_item(Key=_key(), ConditionExpression="holder = :me", ExpressionAttributeValues={":me": run_id})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return False
    return True


def current(table) -> Lease | None:
    item = table.get_item(Key=_key(), ConsistentRead=True).get("Item")
    if item is None:
        return None
    return Lease(str(item["holder"]), str(item["taken_at"]), int(item["expires_at"]))
