"""A moto-backed AWS (with percentile support) and a pipeline built against it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import boto3
import botocore.client
import pytest
from dagster import Definitions
from moto import mock_aws
from pipeline_support import COLLECTED_AT, NOW, Aws

from cw_pipeline.config import Settings
from cw_pipeline.definitions import build_definitions
from cw_pipeline.local import percentiles
from cw_pipeline.local.provision import provision


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
