"""Constants and helpers of the handler tests (a module of its own: `from conftest import ...` would pick up
whichever test package's conftest was imported last when several packages run together)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from cw_local.fakes import FakeLambdaContext  # noqa: F401  (the handler tests' context)

EVENTS = Path(__file__).parent / "events"
# The invocation clock of every test: a fixed time, so the retention and "not ended yet" checks are
# exact and the tests do not age. Real time is later, so Dagster's partitions (which end at the real
# clock) hold every window used here.
NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
SERVICE = "cw-analytics-dev-aggregator"
API, FUNCTION, DB = "orders-api", "orders-handler", "orders-db"
RULES_PER_WINDOW = 6  # thresholds.RULES, one resource per service here

PG_HOST = os.environ.get("CW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CW_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CW_TEST_PG_USER", "postgres")


def pg_url(dbname: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())
