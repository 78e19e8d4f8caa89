"""The end-to-end tests' Dagster instance database: one per session on the local PostgreSQL, dropped at the end.

Created by `cw_local.dagster_instance.ensure_database`, what `make demo` and `make ui` run on the developer's
``dagster`` database, which no test touches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from cw_local import dagster_instance
from cw_pipeline.runtime import instance as instances
from tests.e2e.support import PG_HOST, PG_PORT, pg_url


@pytest.fixture(scope="session")
def dagster_pg_url() -> Iterator[str]:
    """``postgresql://...@host:port/cw_e2e_<random>``, a database created for this session."""
    name = f"cw_e2e_{uuid.uuid4().hex[:10]}"
    try:
        created = dagster_instance.ensure_database(pg_url(name))
    except dagster_instance.InstanceUnavailable as error:
        pytest.fail(
            f"{error}. Run `bash scripts/ensure-postgres.sh`, or point CW_TEST_PG_HOST/CW_TEST_PG_PORT/"
            f"CW_TEST_PG_USER at a server with trust auth (tried {PG_HOST}:{PG_PORT})."
        )
    assert created, f"database {name} already existed"
    try:
        yield pg_url(name)
    finally:
        instances.dispose_shared()  # the handler's cached instances hold connections to it
        with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
