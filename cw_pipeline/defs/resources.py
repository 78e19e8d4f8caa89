"""Dagster resources: where the pipeline's I/O lives (CloudWatch reads, the metrics table, SNS, the reports).

Built on dagster-aws's `ResourceWithBoto3Configuration`, so region, endpoint, profile and retries are
configured the dagster-aws way; left unset, boto3's standard configuration (``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``, profiles) decides where calls go. Every AWS error is
re-raised as `AwsCallError`, whose message names the call and the resource it was made on.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import boto3
import pandas as pd
from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError
from dagster import ConfigurableResource
from dagster_aws.utils import ResourceWithBoto3Configuration, construct_boto_client_retry_config
from pydantic import Field, PrivateAttr

from cw_pipeline import naming
from cw_pipeline.aggregation import aggregates_from_items
from cw_pipeline.catalog import SERVICES
from cw_pipeline.cloudwatch import FetchResult, MetricQuery, fetch
from cw_pipeline.config import MonitoredResource, Settings


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


class _Boto3Resource(ResourceWithBoto3Configuration):
    # One boto3 client per AWS service for the life of this resource (one run): building one parses
    # botocore's JSON service models, ~0.1-0.25 s each, far more than most calls cost.
    _clients: dict = PrivateAttr(default_factory=dict)

    def _session(self) -> boto3.session.Session:
        return boto3.session.Session(profile_name=self.profile_name)

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
        client = self._clients.get(service_name)
        if client is None:
            client = self._clients[service_name] = self._session().client(service_name, **self._options())
        return client


class MonitoredResources(ConfigurableResource):
    """Which resources are watched: per service (``apigateway``, ``lambda``, ``rds``), their dimension values
    (``CW_API_NAMES`` and its siblings in `cw_pipeline.catalog.SERVICES`)."""

    names: dict[str, list[str]] = Field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitoredResources:
        names: dict[str, list[str]] = {service.value: [] for service in SERVICES}
        for resource in settings.resources:
            names[resource.service.value].append(resource.name)
        return cls(names=names)

    def resources(self) -> list[MonitoredResource]:
        return [MonitoredResource(service, name) for service in SERVICES for name in self.names.get(service.value, [])]


class CloudWatchMetrics(_Boto3Resource):
    """Reads metric statistics with GetMetricData (``cloudwatch:GetMetricData`` is all it needs)."""

    def fetch(self, queries: list[MetricQuery], start: datetime, end: datetime) -> FetchResult:
        with aws_call("CloudWatch GetMetricData", f"{len(queries)} queries from {start} to {end}"):
            return fetch(self.client("cloudwatch"), queries, start, end)


class MetricStore(_Boto3Resource):
    """The DynamoDB table of aggregates and evaluations (the README's data contract).

    Writes go through boto3's batch writer: BatchWriteItem with 25 items a call, ``UnprocessedItems``
    retried, and duplicate keys in one batch collapsed. Keys are deterministic, so writing the same
    window again overwrites it: re-runs and backfills are idempotent.
    """

    table_name: str
    retention_days: int = 90

    def _table(self):
        table = self._clients.get("dynamodb.Table")
        if table is None:
            table = self._clients["dynamodb.Table"] = (
                self._session().resource("dynamodb", **self._options()).Table(self.table_name)
            )
        return table

    def write(self, items: Iterable[dict]) -> int:
        """Write ``items``; returns the number of BatchWriteItem calls made."""
        table = self._table()
        calls = 0

        def count(**_kwargs) -> None:
            nonlocal calls
            calls += 1

        table.meta.client.meta.events.register("before-call.dynamodb.BatchWriteItem", count)
        with (
            aws_call("DynamoDB BatchWriteItem", f"table {self.table_name}"),
            table.batch_writer(overwrite_by_pkeys=[naming.TABLE_PARTITION_KEY, naming.TABLE_SORT_KEY]) as batch,
        ):
            for item in items:
                batch.put_item(Item=_to_dynamodb(item))
        return calls

    def read_items(self, keys: Iterable[tuple[str, str]]) -> StoredItems:
        """The items stored under ``keys`` (``(pk, sk)`` pairs) that exist, numbers as floats.

        One Query per partition key over the range of its sort keys.
        """
        by_pk: dict[str, list[str]] = {}
        for pk, sk in keys:
            by_pk.setdefault(pk, []).append(sk)
        wanted = {(pk, sk) for pk, sks in by_pk.items() for sk in sks}
        found: dict[tuple[str, str], dict] = {}
        for pk, sks in sorted(by_pk.items()):
            for item in self.query_range(pk, min(sks), max(sks)):
                if (item[naming.TABLE_PARTITION_KEY], item[naming.TABLE_SORT_KEY]) in wanted:
                    found[(item[naming.TABLE_PARTITION_KEY], item[naming.TABLE_SORT_KEY])] = item
        return StoredItems(found, len(by_pk))

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
        table = self._table()
        items: list[dict] = []
        condition = Key(naming.TABLE_PARTITION_KEY).eq(pk) & Key(naming.TABLE_SORT_KEY).between(first_sk, last_sk)
        request: dict = {"KeyConditionExpression": condition, "ConsistentRead": True}
        with aws_call("DynamoDB Query", f"table {self.table_name}, pk {pk}"):
            while True:
                page = table.query(**request)
                items.extend(_from_dynamodb(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return items
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class StoredItems:
    items: dict[tuple[str, str], dict]  # (pk, sk) -> item
    calls: int  # DynamoDB read calls made


# Message fields copied into the SNS message attributes when a message has them.
MESSAGE_ATTRIBUTES_FROM_BODY = ("kind", "slo_id", "severity")


class AlertNotifier(_Boto3Resource):
    """Publishes alert transitions to the SNS topic; with no topic ARN, notifications are off."""

    topic_arn: str = ""
    env: str = "dev"

    @property
    def enabled(self) -> bool:
        return bool(self.topic_arn)

    def publish(self, subject: str, message: dict, rule_id: str, state: str) -> str | None:
        if not self.enabled:
            return None
        attributes = {"source": "cw-pipeline", "rule_id": rule_id, "state": state, "env": self.env}
        # A burn-rate message names its kind and SLO, so that subscribers can filter on them (issue 13).
        attributes.update({name: str(message[name]) for name in MESSAGE_ATTRIBUTES_FROM_BODY if name in message})
        with aws_call("SNS Publish", f"topic {self.topic_arn}"):
            response = self.client("sns").publish(
                TopicArn=self.topic_arn,
                Subject=subject,
                Message=json.dumps(message, sort_keys=True),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
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
