"""A moto-backed AWS (with percentile support) and a pipeline built against it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dagster import Definitions
from pipeline_support import COLLECTED_AT, NOW

from cw_pipeline.config import Settings
from cw_pipeline.definitions import build_definitions
from tests.emulated_aws import EmulatedAws, emulated_aws


@pytest.fixture
def aws() -> Iterator[EmulatedAws]:
    with emulated_aws() as emulated:
        yield emulated


@pytest.fixture
def settings(aws: EmulatedAws) -> Settings:
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
