"""The shared Dagster instance of `make demo` and `make ui`: its database on the real local PostgreSQL, the
fallback when no server answers, and the dagster.yaml `make ui` writes, loaded by Dagster itself."""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.runs import SqliteRunStorage
from dagster_postgres.run_storage import PostgresRunStorage
from psycopg import sql

from cw_local import dagster_instance
from tests.e2e.support import free_port

PG_HOST = os.environ.get("CW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CW_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CW_TEST_PG_USER", "postgres")


def url_of(dbname: str, port: int = PG_PORT) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{port}/{dbname}"


def exists(dbname: str) -> bool:
    with psycopg.connect(url_of("postgres"), autocommit=True) as connection:
        return connection.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (dbname,)).fetchone()[0] == 1


@pytest.fixture
def fresh_name() -> Iterator[str]:
    """A database name nobody uses; dropped at the end if the test created it."""
    name = f"cw_local_test_{uuid.uuid4().hex[:10]}"
    assert not exists(name)
    yield name
    with psycopg.connect(url_of("postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_the_database_is_created_once_then_found(fresh_name):
    assert dagster_instance.ensure_database(url_of(fresh_name)) is True
    assert exists(fresh_name)
    assert dagster_instance.ensure_database(url_of(fresh_name)) is False  # found, not created again


def test_choose_creates_the_database_and_names_it(fresh_name):
    shared = dagster_instance.choose(url_of(fresh_name), fallback="unused")
    assert shared.shared and exists(fresh_name)
    # dagster-postgres is written for psycopg2: the URL it gets names that driver.
    assert shared.url == f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{fresh_name}"
    assert shared.note == (
        f"Dagster instance: PostgreSQL database '{fresh_name}' on {PG_HOST}:{PG_PORT} (created), shared"
    )


def test_no_server_is_a_clear_fallback_not_a_crash():
    port = free_port()  # nothing listens there
    with pytest.raises(dagster_instance.InstanceUnavailable, match=rf"database 'dagster' on {PG_HOST}:{port}"):
        dagster_instance.ensure_database(url_of("dagster", port))
    shared = dagster_instance.choose(url_of("dagster", port), fallback="ephemeral (the runs end with the demo)")
    assert shared.url is None and not shared.shared
    assert shared.note.startswith("Dagster instance: ephemeral (the runs end with the demo), NOT shared: ")
    assert f"{PG_HOST}:{port}" in shared.note and "scripts/ensure-postgres.sh" in shared.note


def test_turned_off_is_said_so():
    shared = dagster_instance.choose(None, fallback="ephemeral")
    assert (shared.url, shared.note) == (None, "Dagster instance: ephemeral (shared instance turned off)")


@pytest.mark.parametrize(
    ("given", "libpq"),
    [
        ("postgresql://u@h:5432/d", "postgresql://u@h:5432/d"),
        ("postgres://u@h:5432/d", "postgresql://u@h:5432/d"),
        ("postgresql+psycopg2://u:p@h:5432/d", "postgresql://u:p@h:5432/d"),
    ],
)
def test_urls_are_read_in_every_scheme_dagster_postgres_accepts(given, libpq):
    assert dagster_instance.libpq_url(given) == libpq


def test_a_url_of_another_database_is_refused_with_what_is_expected():
    with pytest.raises(ValueError, match=r"not a PostgreSQL URL: 'mysql://u@h/d'; expected postgresql://"):
        dagster_instance.libpq_url("mysql://u@h/d")
    parser = argparse.ArgumentParser(prog="demo")
    dagster_instance.add_arguments(parser, "runs")
    with pytest.raises(SystemExit):
        dagster_instance.url_from_arguments(parser, parser.parse_args(["--dagster-pg-url", "sqlite:///x.db"]))
    assert dagster_instance.url_from_arguments(parser, parser.parse_args(["--no-dagster-pg"])) is None
    assert dagster_instance.url_from_arguments(parser, parser.parse_args([])) == (
        "postgresql://postgres@127.0.0.1:5432/dagster"
    )


def test_the_ui_yaml_loads_as_a_postgres_instance_on_the_database(fresh_name, tmp_path):
    dagster_instance.ensure_database(url_of(fresh_name))
    home = tmp_path / "dagster_home"
    path = dagster_instance.write_instance_yaml(home, url_of(fresh_name))
    assert path == home / "dagster.yaml"
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert instance.run_storage.postgres_url == f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{fresh_name}"
        assert instance.get_runs() == []  # its tables were created in the database: it answers
    finally:
        instance.dispose()
    with psycopg.connect(url_of(fresh_name)) as connection:
        tables = {row[0] for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"runs", "event_logs", "run_tags"} <= tables


def test_the_ui_yaml_quotes_a_password_yaml_would_misread(tmp_path):
    url = "postgresql://cw:p# w:d@db.internal:5433/dagster"
    loaded = yaml.safe_load(dagster_instance.instance_yaml(url))
    assert loaded["storage"]["postgres"]["postgres_url"] == "postgresql+psycopg2://cw:p# w:d@db.internal:5433/dagster"
    assert loaded["telemetry"] == {"enabled": False}


def test_without_postgres_the_ui_keeps_dagsters_storage_under_its_home(tmp_path):
    home = tmp_path / "dagster_home"
    dagster_instance.write_instance_yaml(home, None)
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    try:
        assert isinstance(instance.run_storage, SqliteRunStorage)
    finally:
        instance.dispose()
    assert "storage" not in yaml.safe_load((home / "dagster.yaml").read_text())
