"""Writes to the metrics table with a bounded retry: BatchWriteItem and TransactWriteItems.

BatchWriteItem may accept only part of a request and hand the rest back as ``UnprocessedItems``
(the table is throttling). boto3's batch writer resends those at once and forever; here each batch
of 25 is resent at most ``attempts`` times, with exponential backoff and full jitter between
attempts, and then the run fails with `UnprocessedItemsError` naming the table and how many items
were left. Errors of the call itself (throttling answers, 5xx, connection errors) are retried by
botocore's ``standard`` retry mode, configured on every client (`cw_pipeline.defs.resources`).

The batches hold distinct keys, so they are independent: up to `WRITE_CONCURRENCY` are in flight at
once (a thousand-resource run writes hundreds of batches, one round trip each), with the same calls as
one after another. Once a batch has failed, the batches not yet started are not sent; those in flight
finish their own attempts. Transactions stay sequential and in order (the outbox relies on it).

The functions take the client of a boto3 DynamoDB *resource* (``table.meta.client``), which accepts
and returns plain Python values (numbers as ``Decimal``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

from cw_pipeline import naming

ITEMS_PER_BATCH = 25  # BatchWriteItem's limit
ACTIONS_PER_TRANSACTION = 100  # TransactWriteItems' limit
WRITE_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0
WRITE_CONCURRENCY = 8  # BatchWriteItem calls in flight at once


class UnprocessedItemsError(RuntimeError):
    """DynamoDB left items unprocessed after every attempt; the message names the table and the count."""


def backoff(attempt: int, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Seconds to wait after failed attempt ``attempt`` (from 1): full jitter over an exponential ceiling."""
    return random.uniform(0, min(cap, base * 2**attempt))


def key_of(item: dict) -> tuple[str, str]:
    return item[naming.TABLE_PARTITION_KEY], item[naming.TABLE_SORT_KEY]


def batch_write(
    client, table_name: str, items: Iterable[dict], attempts: int = WRITE_ATTEMPTS, concurrency: int = WRITE_CONCURRENCY
) -> int:
    """Put ``items`` (a later item replaces an earlier one with the same key); returns BatchWriteItem calls."""
    unique = list({key_of(item): item for item in items}.values())
    batches = [unique[offset : offset + ITEMS_PER_BATCH] for offset in range(0, len(unique), ITEMS_PER_BATCH)]
    failed = threading.Event()  # set by the first batch that fails: the batches not yet started stay unsent

    def write(batch: list[dict]) -> _Batch:
        try:
            return _write_batch(client, table_name, batch, attempts, failed)
        except BaseException:
            failed.set()
            raise

    lanes = min(concurrency, len(batches))
    if lanes > 1:
        # Each thread writes a run of consecutive batches, in the order of the items.
        bounds = [len(batches) * lane // lanes for lane in range(lanes + 1)]
        runs = [batches[start:end] for start, end in pairwise(bounds)]
        with ThreadPoolExecutor(max_workers=lanes) as pool:
            futures = [pool.submit(lambda run: [write(batch) for batch in run], run) for run in runs]
        errors = [error for future in futures if (error := future.exception()) is not None]
        if errors:
            raise errors[0]  # the first in the order of the items
        done = [batch for future in futures for batch in future.result()]
    else:
        done = [write(batch) for batch in batches]
    if failed.is_set():
        raise _unprocessed_error(table_name, done, len(unique), attempts)
    return sum(batch.calls for batch in done)


@dataclass(frozen=True)
class _Batch:
    """What became of one batch: the calls made, the items left unwritten, the seconds waited between calls."""

    calls: int
    unprocessed: int
    waited: float
    sent: bool = True


def _write_batch(client, table_name: str, batch: list[dict], attempts: int, failed: threading.Event) -> _Batch:
    """One batch of at most 25 items, its ``UnprocessedItems`` resent with backoff at most ``attempts`` times;
    sets ``failed`` when some are left after that. Not sent at all once another batch has failed."""
    if failed.is_set():
        return _Batch(calls=0, unprocessed=len(batch), waited=0.0, sent=False)
    pending = [{"PutRequest": {"Item": item}} for item in batch]
    waited = 0.0
    for attempt in range(1, attempts + 1):
        response = client.batch_write_item(RequestItems={table_name: pending})
        pending = response.get("UnprocessedItems", {}).get(table_name, [])
        if not pending:
            return _Batch(calls=attempt, unprocessed=0, waited=waited)
        if attempt < attempts:
            delay = backoff(attempt)
            waited += delay
            time.sleep(delay)
    failed.set()
    return _Batch(calls=attempts, unprocessed=len(pending), waited=waited)


def _unprocessed_error(table_name: str, batches: Sequence[_Batch], total: int, attempts: int) -> UnprocessedItemsError:
    unprocessed = sum(b.unprocessed for b in batches if b.sent)
    unsent = sum(b.unprocessed for b in batches if not b.sent)
    waited = max(b.waited for b in batches if b.sent and b.unprocessed)
    written = total - unprocessed - unsent
    not_sent = f", {unsent} more not sent once a batch had failed" if unsent else ""
    return UnprocessedItemsError(
        f"DynamoDB BatchWriteItem on table {table_name}: {unprocessed} item(s) still unprocessed after {attempts} "
        f"attempts and {waited:.1f} s of backoff (the table is throttling writes); {written} of {total} item(s) "
        f"were written{not_sent}. The run fails; running it again rewrites the same keys"
    )


def transact_put_groups(client, table_name: str, groups: Sequence[Sequence[dict]]) -> int:
    """Put each group of items atomically (a group is never split across transactions); returns calls."""
    calls = 0
    actions: list[dict] = []
    for group in groups:
        if len(actions) + len(group) > ACTIONS_PER_TRANSACTION:
            client.transact_write_items(TransactItems=actions)
            calls += 1
            actions = []
        actions.extend({"Put": {"TableName": table_name, "Item": item}} for item in group)
    if actions:
        client.transact_write_items(TransactItems=actions)
        calls += 1
    return calls
