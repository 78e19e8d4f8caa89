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
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from cw_pipeline.catalog import SERVICES
from cw_pipeline.cloudwatch import FetchResult, MetricQuery, fetch
from cw_pipeline.config import Discovery, MonitoredResource, Settings
from cw_pipeline.defs import aws_clients
from cw_pipeline.defs.aws_clients import Boto3Configuration, construct_boto_client_retry_config
from cw_pipeline.discovery import Discovered, discover
from cw_pipeline.outbox import Notification


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
