"""Dagster resources: where the pipeline's I/O lives (discovery, CloudWatch reads, the metrics table, SNS,
the reports).

Configured like dagster-aws's ``ResourceWithBoto3Configuration`` (`aws_clients.Boto3Configuration`), so
region, endpoint, profile and retries are set the dagster-aws way; left unset, boto3's standard
configuration (``AWS_REGION`` / ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``, profiles) decides where
calls go. Clients are shared by every resource of the process (`aws_clients`): one per service for a
run, none built again by a warm invocation. Every client retries in botocore's ``standard`` mode: at most
``max_attempts`` attempts per call (5 by default, the first included), exponential backoff with jitter,
on throttling, 5xx answers and connection errors. Every AWS error is re-raised as `AwsCallError`, whose
message names the call and the resource it was made on.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

import pandas as pd
from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from cw_pipeline import lease, naming, table_writes
from cw_pipeline.aggregation import aggregates_from_items
from cw_pipeline.catalog import SERVICES
from cw_pipeline.cloudwatch import FetchResult, MetricQuery, fetch
from cw_pipeline.config import Discovery, MonitoredResource, Settings
from cw_pipeline.defs import aws_clients
from cw_pipeline.defs.aws_clients import Boto3Configuration, construct_boto_client_retry_config
from cw_pipeline.discovery import Discovered, discover
from cw_pipeline.outbox import OUTBOX_PK, Notification

BATCH_GET_KEYS = 100  # BatchGetItem's limit per call
BATCH_GET_ATTEMPTS = 6  # calls for one batch of keys while DynamoDB leaves some unprocessed
BATCH_GET_BACKOFF_SECONDS = 0.05  # doubled after every attempt, with jitter, at most the cap
BATCH_GET_BACKOFF_CAP_SECONDS = 2.0
READ_CONCURRENCY = 8  # stored-state reads in flight at once


class AwsCallError(RuntimeError):
    """An AWS call failed; the message says which call, on what, and what AWS answered."""


@contextlib.contextmanager
def aws_call(call: str, target: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        text = error.response.get("Error", {}).get("Message", str(error))
        raise AwsCallError(f"{call} on {target} failed: {code}: {text}") from error
    except BotoCoreError as error:
        raise AwsCallError(f"{call} on {target} failed: {error}") from error


class PipelineClock(ConfigurableResource):
    """The time stamped on items (``collected_at``, ``evaluated_at``); fixed in tests for exact items."""

    fixed_time: str | None = None  # ISO-8601; None reads the system clock

    def now(self) -> datetime:
        if self.fixed_time:
            return datetime.fromisoformat(self.fixed_time).astimezone(UTC)
        return datetime.now(UTC)


class _Boto3Resource(Boto3Configuration):
    # Building a client parses botocore's JSON service models (~0.1-0.25 s), far more than most calls
    # cost: clients are shared by the process, per service and configuration (`aws_clients`).

    def _session(self):
        return aws_clients.session(self.profile_name)

    def _options(self) -> dict:
        return {
            "region_name": self.region_name,
            "endpoint_url": self.endpoint_url,
            "use_ssl": self.use_ssl,
            "verify": self.verify,
            "aws_access_key_id": self.aws_access_key_id,
            "aws_secret_access_key": self.aws_secret_access_key,
            "aws_session_token": self.aws_session_token,
            "config": construct_boto_client_retry_config(self.max_attempts),
        }

    def client(self, service_name: str):
        options = self._options()
        return aws_clients.shared(
            "client", service_name, self.profile_name, options, lambda: self._session().client(service_name, **options)
        )


class MonitoredResources(_Boto3Resource):
    """Which resources a run watches (`cw_pipeline.discovery`): per service (``apigateway``, ``lambda``,
    ``rds``) the ``names`` listed, or those found by their ``tags`` or their recent metrics, less ``exclude``.

    Discovery runs once per run, the first time a step asks; every later step of the run sees the same list.
    """

    discovery: str = Discovery.NAMES.value
    names: dict[str, list[str]] = Field(default_factory=dict)
    tags: dict[str, list[str]] = Field(default_factory=dict)  # tag key -> accepted values
    exclude: list[str] = Field(default_factory=list)  # glob patterns on ``name`` and ``service:name``
    _discovered: list = PrivateAttr(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings, **boto3_configuration) -> MonitoredResources:
        names: dict[str, list[str]] = {service.value: [] for service in SERVICES}
        for resource in settings.resources:
            names[resource.service.value].append(resource.name)
        tags: dict[str, list[str]] = {}
        for key, value in settings.discovery_tags:
            tags.setdefault(key, []).append(value)
        return cls(
            discovery=settings.discovery.value,
            names=names,
            tags=tags,
            exclude=list(settings.exclude),
            **boto3_configuration,
        )

    def discover(self) -> Discovered:
        if not self._discovered:
            mode = Discovery(self.discovery)
            pairs = [(key, value) for key, values in self.tags.items() for value in values]
            with aws_call(f"resource discovery (CW_DISCOVERY={mode.value})", self.region_name or "the default region"):
                self._discovered.append(discover(mode, self.client, self.names, pairs, self.exclude))
        return self._discovered[0]

    def resources(self) -> list[MonitoredResource]:
        return list(self.discover().resources)


class CloudWatchMetrics(_Boto3Resource):
    """Reads metric statistics with GetMetricData (``cloudwatch:GetMetricData`` is all it needs)."""

    def fetch(self, queries: list[MetricQuery], start: datetime, end: datetime) -> FetchResult:
        with aws_call("CloudWatch GetMetricData", f"{len(queries)} queries from {start} to {end}"):
            return fetch(self.client("cloudwatch"), queries, start, end)


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
        if len(tasks) > 1:
            with ThreadPoolExecutor(max_workers=min(READ_CONCURRENCY, len(tasks))) as pool:
                results = list(pool.map(lambda task: task(), tasks))
        else:
            results = [task() for task in tasks]
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
        `cw_pipeline.aggregation.aggregate` returns: one Query per resource over the whole range."""
        items = [
            item
            for resource in resources
            for item in self.query_range(resource.pk, naming.window_sk(first), naming.window_sk(last))
        ]
        return aggregates_from_items(items)

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


@dataclass(frozen=True)
class StoredItems:
    items: dict[tuple[str, str], dict]  # (pk, sk) -> item
    calls: int  # DynamoDB read calls made


class AlertNotifier(_Boto3Resource):
    """Publishes alert notifications (transitions and corrections) to the SNS topic; with no topic ARN,
    notifications are off."""

    topic_arn: str = ""
    env: str = "dev"

    @property
    def enabled(self) -> bool:
        return bool(self.topic_arn)

    def publish(self, notification: Notification) -> str | None:
        """Publish one notification; its attributes carry its kind and its deterministic id."""
        if not self.enabled:
            return None
        with aws_call("SNS Publish", f"topic {self.topic_arn}"):
            response = self.client("sns").publish(
                TopicArn=self.topic_arn,
                Subject=notification.subject,
                Message=json.dumps(notification.message, sort_keys=True),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in notification.attributes.items()
                },
            )
        return response["MessageId"]


class ReportStore(_Boto3Resource):
    """Where reports go: the reports bucket (``CW_REPORTS_BUCKET``), else a local directory (``CW_REPORTS_DIR``).

    The bucket's default encryption (the project key) applies to every object; the writer needs only
    ``s3:PutObject`` on the report prefix.
    """

    bucket: str = ""
    directory: str = ".demo/reports"

    def write(self, key: str, body: str, content_type: str = "text/html; charset=utf-8") -> str:
        """Store ``body`` under ``key`` (a relative path such as ``slo-reports/2026-11-20.html``); where it went."""
        if key.startswith("/") or ".." in Path(key).parts:
            raise ValueError(f"report key {key!r} must be a relative path inside the reports location")
        if self.bucket:
            with aws_call("S3 PutObject", f"s3://{self.bucket}/{key}"):
                self.client("s3").put_object(
                    Bucket=self.bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type
                )
            return f"s3://{self.bucket}/{key}"
        path = Path(self.directory, key).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")  # renamed into place: never a half-written report
        partial.write_text(body, encoding="utf-8")
        partial.replace(path)
        return str(path)


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
