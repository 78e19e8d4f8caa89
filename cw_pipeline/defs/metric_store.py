"""The metrics table (the README's data contract): writes with a bounded retry of unprocessed items, bulk
reads of stored states, the run lease and the outbox of notifications.

Keys are deterministic, so writing the same window again overwrites it: re-runs and backfills are idempotent.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import TypeVar

import pandas as pd
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from cw_pipeline import lease, naming, table_writes
from cw_pipeline.aggregation import aggregates_from_items
from cw_pipeline.config import MonitoredResource
from cw_pipeline.defs import aws_clients
from cw_pipeline.defs.resources import AwsCallError, _Boto3Resource, aws_call
from cw_pipeline.outbox import OUTBOX_PK, Notification

BATCH_GET_KEYS = 100  # BatchGetItem's limit per call
BATCH_GET_ATTEMPTS = 6  # calls for one batch of keys while DynamoDB leaves some unprocessed
BATCH_GET_BACKOFF_SECONDS = 0.05  # doubled after every attempt, with jitter, at most the cap
BATCH_GET_BACKOFF_CAP_SECONDS = 2.0
READ_CONCURRENCY = 8  # stored-state and history reads in flight at once

T = TypeVar("T")


class MetricStore(_Boto3Resource):
    """The DynamoDB table of aggregates and evaluations (the README's data contract).

    Keys are deterministic, so writing the same window again overwrites it: re-runs and backfills are
    idempotent. Plain writes are BatchWriteItem calls with a bounded retry of ``UnprocessedItems``
    (`cw_pipeline.table_writes`); an evaluation that owes a notification is written in one transaction
    with its outbox entry (`cw_pipeline.outbox`). The same table holds the run lease (`cw_pipeline.lease`).
    """

    table_name: str
    retention_days: int = 90
    write_attempts: int = table_writes.WRITE_ATTEMPTS
    lease_seconds: int = lease.LEASE_SECONDS

    def _table(self):
        options = self._options()
        dynamodb = aws_clients.shared(
            "resource", "dynamodb", self.profile_name, options, lambda: self._session().resource("dynamodb", **options)
        )
        return dynamodb.Table(self.table_name)

    def write(self, items: Iterable[dict]) -> int:
        """Write ``items``; returns the number of BatchWriteItem calls made."""
        with aws_call("DynamoDB BatchWriteItem", f"table {self.table_name}"):
            return table_writes.batch_write(
                self._table().meta.client, self.table_name, [_to_dynamodb(i) for i in items], self.write_attempts
            )

    def write_owed(self, evaluations: Iterable[dict], entries: Iterable[dict]) -> int:
        """Write each evaluation together with its outbox entry (pairs, in order); returns calls made."""
        groups = [[_to_dynamodb(e), _to_dynamodb(o)] for e, o in zip(evaluations, entries, strict=True)]
        with aws_call("DynamoDB TransactWriteItems", f"table {self.table_name}"):
            return table_writes.transact_put_groups(self._table().meta.client, self.table_name, groups)

    def owed_notifications(self) -> list[Notification]:
        """Every outbox entry: notifications that earlier runs wrote and did not record as sent."""
        request: dict = {
            "KeyConditionExpression": Key(naming.TABLE_PARTITION_KEY).eq(OUTBOX_PK),
            "ConsistentRead": True,
        }
        entries: list[dict] = []
        with aws_call("DynamoDB Query", f"table {self.table_name}, pk {OUTBOX_PK}"):
            while True:
                page = self._table().query(**request)
                entries.extend(page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return [Notification.from_entry(entry) for entry in entries]
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def record_sent(self, notification: Notification) -> bool:
        """Record a published notification on its evaluation and delete its outbox entry, in one transaction,
        on condition that the evaluation is still in the state published. False (and the entry deleted)
        when it is not: another writer changed it, and the next evaluation of the window decides anew."""
        client = self._table().meta.client
        key = {
            naming.TABLE_PARTITION_KEY: notification.evaluation_pk,
            naming.TABLE_SORT_KEY: notification.evaluation_sk,
        }
        entry = {naming.TABLE_PARTITION_KEY: OUTBOX_PK, naming.TABLE_SORT_KEY: notification.outbox_sk}
        update = {
            "TableName": self.table_name,
            "Key": key,
            "UpdateExpression": "SET notified = :yes, notified_state = :state, notifications = :count, "
            "notification_id = :id",
            "ConditionExpression": "#state = :state AND (attribute_not_exists(notifications) OR notifications = :seq)",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {
                ":yes": True, ":state": notification.state, ":seq": notification.sequence,
                ":count": notification.sequence + 1, ":id": notification.id,
            },
        }  # fmt: skip
        with aws_call("DynamoDB TransactWriteItems", f"table {self.table_name}, notification {notification.id}"):
            try:
                client.transact_write_items(
                    TransactItems=[{"Update": update}, {"Delete": {"TableName": self.table_name, "Key": entry}}]
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if reasons[:1] != ["ConditionalCheckFailed"]:
                    raise
                client.delete_item(TableName=self.table_name, Key=entry)
                return False
        return True

    def take_lease(self, run_id: str, now: datetime) -> lease.Lease:
        """Take or renew the run lease (`cw_pipeline.lease`); `lease.LeaseHeld` when another run has it."""
        with aws_call("DynamoDB PutItem (run lease)", f"table {self.table_name}"):
            return lease.take(self._table(), run_id, now, self.lease_seconds)

    def release_lease(self, run_id: str) -> bool:
        with aws_call("DynamoDB DeleteItem (run lease)", f"table {self.table_name}"):
            return lease.release(self._table(), run_id)

    def read_items(self, keys: Iterable[tuple[str, str]]) -> StoredItems:
        """The items stored under ``keys`` (``(pk, sk)`` pairs) that exist, numbers as floats.

        Each partition is read the cheaper way for its number of wanted keys. A partition with at least
        `BATCH_GET_KEYS` of them (a backfill: one rule and resource over many windows) is read with one Query
        over its sort-key range, one call where BatchGetItem would need one per 100 keys. Every other key
        (a scheduled run: 3 windows for each of thousands of rule and resource pairs) goes into BatchGetItem
        calls of 100 keys, instead of one Query per pair: 65 calls instead of 2,140 for 1,070 resources.
        The calls are independent, so up to `READ_CONCURRENCY` are in flight at once.
        """
        by_pk: dict[str, set[str]] = {}
        for pk, sk in keys:
            by_pk.setdefault(pk, set()).add(sk)
        client = self._table().meta.client  # a client is thread-safe; the Table resource is not
        batched = [(pk, sk) for pk, sks in sorted(by_pk.items()) if len(sks) < BATCH_GET_KEYS for sk in sorted(sks)]
        tasks = [
            partial(self._query_partition, client, pk, sks)
            for pk, sks in sorted(by_pk.items())
            if len(sks) >= BATCH_GET_KEYS
        ] + [
            partial(self._batch_get, client, batched[offset : offset + BATCH_GET_KEYS])
            for offset in range(0, len(batched), BATCH_GET_KEYS)
        ]
        results = _concurrently(tasks)
        found: dict[tuple[str, str], dict] = {}
        for part, _ in results:
            found.update(part)
        return StoredItems(found, sum(calls for _, calls in results))

    def _query_partition(self, client, pk: str, sks: set[str]) -> tuple[dict[tuple[str, str], dict], int]:
        items, pages = self._query_pages(pk, min(sks), max(sks), client)
        sk_name = naming.TABLE_SORT_KEY
        return {(pk, item[sk_name]): item for item in items if item[sk_name] in sks}, pages

    def _batch_get(self, client, keys: list[tuple[str, str]]) -> tuple[dict[tuple[str, str], dict], int]:
        """One BatchGetItem of at most 100 ``keys``, its ``UnprocessedKeys`` asked again with exponential backoff
        and jitter; fails naming the table after `BATCH_GET_ATTEMPTS` calls. The items found, and the calls."""
        pk_name, sk_name = naming.TABLE_PARTITION_KEY, naming.TABLE_SORT_KEY
        pending = [{pk_name: pk, sk_name: sk} for pk, sk in keys]
        found: dict[tuple[str, str], dict] = {}
        for attempt in range(1, BATCH_GET_ATTEMPTS + 1):
            with aws_call("DynamoDB BatchGetItem", f"table {self.table_name}"):
                response = client.batch_get_item(
                    RequestItems={self.table_name: {"Keys": pending, "ConsistentRead": True}}
                )
            for item in response.get("Responses", {}).get(self.table_name, []):
                found[(item[pk_name], item[sk_name])] = _from_dynamodb(item)
            pending = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
            if not pending:
                return found, attempt
            if attempt < BATCH_GET_ATTEMPTS:
                backoff = min(BATCH_GET_BACKOFF_CAP_SECONDS, BATCH_GET_BACKOFF_SECONDS * 2 ** (attempt - 1))
                time.sleep(backoff * random.uniform(0.5, 1.0))
        raise AwsCallError(
            f"DynamoDB BatchGetItem on table {self.table_name} failed: {len(pending)} of {len(keys)} keys still "
            f"unprocessed after {BATCH_GET_ATTEMPTS} attempts (the table is throttling reads); the run wrote no "
            "evaluation, retry it or raise the table's read capacity"
        )

    def read_aggregates(self, resources: Iterable[MonitoredResource], first: datetime, last: datetime) -> pd.DataFrame:
        """The stored aggregates of ``resources`` for windows starting in ``[first, last]``, as the frame
        `cw_pipeline.aggregation.aggregate` returns: one Query per resource over the whole range, up to
        `READ_CONCURRENCY` in flight at once (a thousand resources are a thousand round trips)."""
        client = self._table().meta.client
        first_sk, last_sk = naming.window_sk(first), naming.window_sk(last)
        tasks = [partial(self._query_pages, resource.pk, first_sk, last_sk, client) for resource in resources]
        return aggregates_from_items([item for items, _ in _concurrently(tasks) for item in items])

    def query_range(self, pk: str, first_sk: str, last_sk: str) -> list[dict]:
        """Items of one partition whose sort key is in ``[first_sk, last_sk]``, numbers as floats."""
        return self._query_pages(pk, first_sk, last_sk, self._table().meta.client)[0]

    def _query_pages(self, pk: str, first_sk: str, last_sk: str, client) -> tuple[list[dict], int]:
        items: list[dict] = []
        condition = Key(naming.TABLE_PARTITION_KEY).eq(pk) & Key(naming.TABLE_SORT_KEY).between(first_sk, last_sk)
        request: dict = {"TableName": self.table_name, "KeyConditionExpression": condition, "ConsistentRead": True}
        pages = 0
        with aws_call("DynamoDB Query", f"table {self.table_name}, pk {pk}"):
            while True:
                page = client.query(**request)
                pages += 1
                items.extend(_from_dynamodb(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return items, pages
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _concurrently(tasks: list[Callable[[], T]]) -> list[T]:
    """The results of ``tasks`` in their order, up to `READ_CONCURRENCY` running at once; the first error
    raised (in the tasks' order) is raised."""
    if len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=min(READ_CONCURRENCY, len(tasks))) as pool:
        return list(pool.map(lambda task: task(), tasks))


@dataclass(frozen=True)
class StoredItems:
    items: dict[tuple[str, str], dict]  # (pk, sk) -> item
    calls: int  # DynamoDB read calls made


def _to_dynamodb(item: dict) -> dict:
    """Floats as DynamoDB numbers (Decimal); integral values stored as integers."""
    converted = {}
    for name, value in item.items():
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                raise ValueError(f"attribute {name!r} of item {item.get('pk')}/{item.get('sk')} is {value}")
            value = int(value) if value.is_integer() else Decimal(repr(value))
        converted[name] = value
    return converted


def _from_dynamodb(item: dict) -> dict:
    return {name: float(value) if isinstance(value, Decimal) else value for name, value in item.items()}
