"""Writes to the metrics table with a bounded retry: BatchWriteItem and TransactWriteItems.

BatchWriteItem may accept only part of a request and hand the rest back as ``UnprocessedItems``
(the table is throttling). boto3's batch writer resends those at once and forever; here each batch
of 25 is resent at most ``attempts`` times, with exponential backoff and full jitter between
attempts, and then the run fails with `UnprocessedItemsError` naming the table and how many items
were left. Errors of the call itself (throttling answers, 5xx, connection errors) are retried by
botocore's ``standard`` retry mode, configured on every client (`cw_pipeline.defs.resources`).

The functions take the client of a boto3 DynamoDB *resource* (``table.meta.client``), which accepts
and returns plain Python values (numbers as ``Decimal``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence

from cw_pipeline import naming

ITEMS_PER_BATCH = 25  # BatchWriteItem's limit
ACTIONS_PER_TRANSACTION = 100  # TransactWriteItems' limit
WRITE_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0


class UnprocessedItemsError(RuntimeError):
    """DynamoDB left items unprocessed after every attempt; the message names the table and the count."""


def backoff(attempt: int, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Seconds to wait after failed attempt ``attempt`` (from 1): full jitter over an exponential ceiling."""
    return random.uniform(0, min(cap, base * 2**attempt))


def key_of(item: dict) -> tuple[str, str]:
    return item[naming.TABLE_PARTITION_KEY], item[naming.TABLE_SORT_KEY]


def batch_write(client, table_name: str, items: Iterable[dict], attempts: int = WRITE_ATTEMPTS) -> int:
    """Put ``items`` (a later item replaces an earlier one with the same key); returns BatchWriteItem calls."""
    unique = list({key_of(item): item for item in items}.values())
    calls = 0
    for offset in range(0, len(unique), ITEMS_PER_BATCH):
        pending = [{"PutRequest": {"Item": item}} for item in unique[offset : offset + ITEMS_PER_BATCH]]
        waited = 0.0
        for attempt in range(1, attempts + 1):
            response = client.batch_write_item(RequestItems={table_name: pending})
            calls += 1
            pending = response.get("UnprocessedItems", {}).get(table_name, [])
            if not pending:
                break
            if attempt == attempts:
                raise UnprocessedItemsError(
                    f"DynamoDB BatchWriteItem on table {table_name}: {len(pending)} item(s) still unprocessed after "
                    f"{attempts} attempts and {waited:.1f} s of backoff (the table is throttling writes); "
                    f"{offset} of {len(unique)} item(s) were written before. The run fails; running it again "
                    "rewrites the same keys"
                )
            delay = backoff(attempt)
            waited += delay
            time.sleep(delay)
    return calls


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
