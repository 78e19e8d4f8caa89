"""A moto-backed AWS (with percentile support) and a pipeline built against it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import botocore.client
import pytest
from dagster import DagsterInstance, Definitions
from moto import mock_aws

from cw_pipeline.config import Settings
from cw_pipeline.definitions import build_definitions
from cw_pipeline.jobs import JOB_NAME, range_tags
from cw_pipeline.local import percentiles
from cw_pipeline.local.provision import ProvisionedResources, provision
from cw_pipeline.windows import Window

# A fixed day, well inside the partition range of a code location built "now" = NOW.
NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
COLLECTED_AT = datetime(2026, 11, 20, 13, 30, 7, tzinfo=UTC)
W1 = Window(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
W2 = Window(datetime(2026, 11, 20, 12, 5, tzinfo=UTC))


@dataclass
class Aws:
    session: boto3.Session
    resources: ProvisionedResources
    calls: Counter  # (service, operation) -> count, recorded below the code under test

    def items(self) -> list[dict]:
        table = self.session.resource("dynamodb").Table(self.resources.table_name)
        items, request = [], {}
        while True:
            page = table.scan(**request)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def item(self, pk: str, sk: str) -> dict | None:
        table = self.session.resource("dynamodb").Table(self.resources.table_name)
        return table.get_item(Key={"pk": pk, "sk": sk}).get("Item")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    percentiles.install()
    calls: Counter = Counter()
    original = botocore.client.BaseClient._make_api_call

    def recording(client, operation_name, api_params):
        calls[(client.meta.service_model.service_name, operation_name)] += 1
        return original(client, operation_name, api_params)

    with mock_aws():
        session = boto3.Session()
        resources = provision(session)
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
        yield Aws(session, resources, calls)


@pytest.fixture
def settings(aws: Aws) -> Settings:
    return Settings.from_env(
        {
            "CW_ENV": "dev",
            "CW_METRICS_TABLE": aws.resources.table_name,
            "CW_ALERTS_TOPIC_ARN": aws.resources.topic_arn,
            "CW_API_NAMES": "orders-api",
            "CW_FUNCTION_NAMES": "orders-handler",
            "CW_DB_INSTANCE_IDS": "orders-db",
        }
    )


@pytest.fixture
def pipeline(settings: Settings, tmp_path) -> Definitions:
    return build_definitions(settings, NOW, work_dir=str(tmp_path / "frames"), fixed_clock=COLLECTED_AT)


def run_windows(defs: Definitions, windows: list[Window], instance: DagsterInstance | None = None):
    """Run the pipeline job over ``windows`` as one run, the way a single-run backfill does."""
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        tags=range_tags(windows), instance=instance or DagsterInstance.ephemeral(), raise_on_error=True
    )


def minute(window: Window, offset: int, seconds: int = 0) -> datetime:
    return window.start + timedelta(minutes=offset, seconds=seconds)
