"""The aggregator Lambda against moto (with percentile support), a fixed invocation clock and, for the
Postgres-backed instance, a database of its own on the local PostgreSQL server.

Built from the same blocks as tests/pipeline/conftest.py (`percentiles.install`, `mock_aws`, `provision`),
but through the environment, the way the Lambda is configured.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from handler_support import API, DB, FUNCTION, NOW, PG_HOST, PG_PORT, SERVICE, FakeLambdaContext, pg_url
from psycopg2 import sql

from cw_local.fakes import patched_environment
from cw_pipeline.runtime import instance as instances
from tests.emulated_aws import EmulatedAws, emulated_aws

# Powertools reads its service name when the handler module is imported, as on Lambda; set only for
# that import so that other test packages keep their own.
with patched_environment({"POWERTOOLS_SERVICE_NAME": SERVICE}):
    from cw_pipeline.runtime import handler as lambda_handler

    # Another test package may have imported it first, with its own service name: import it again here.
    lambda_handler = importlib.reload(lambda_handler)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[EmulatedAws]:
    """moto AWS with the metrics table and alerts topic; the Lambda's environment pointing at them."""
    with emulated_aws() as emulated:
        resources = emulated.resources
        environment = {
            "CW_ENV": "dev",
            "CW_METRICS_TABLE": resources.table_name,
            "CW_ALERTS_TOPIC_ARN": resources.topic_arn,
            "CW_API_NAMES": API,
            "CW_FUNCTION_NAMES": FUNCTION,
            "CW_DB_INSTANCE_IDS": DB,
            "CW_SETTLE_SECONDS": "120",
            "CW_LOOKBACK_WINDOWS": "1",
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "POWERTOOLS_SERVICE_NAME": SERVICE,
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        unset = (instances.PG_URL_VARIABLE, instances.PG_SECRET_VARIABLE, instances.SUBSET_PLANNED_VARIABLE)
        for name in (*unset, "CW_MAX_BACKFILL_WINDOWS"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(lambda_handler, "now_utc", lambda: NOW)
        yield emulated


@pytest.fixture
def invoke(aws: EmulatedAws):
    """Call the real handler as Lambda does: the event and a context."""

    def call(event: dict, context: FakeLambdaContext | None = None) -> dict:
        return lambda_handler.handler(event, context or FakeLambdaContext())

    return call


@pytest.fixture(scope="session")
def dagster_pg_database() -> Iterator[str]:
    """A database of its own on the local server for this session's Dagster storage, dropped at the end."""
    name = f"cw_dagster_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(pg_url("postgres"), connect_timeout=5)
    except psycopg2.OperationalError as error:
        pytest.fail(
            f"No PostgreSQL on {PG_HOST}:{PG_PORT} ({error}). Run `bash scripts/ensure-postgres.sh`, or point "
            "CW_TEST_PG_HOST/CW_TEST_PG_PORT/CW_TEST_PG_USER at a server with trust auth."
        )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        instances.dispose_shared()
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()
