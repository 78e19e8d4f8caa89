"""Connection lifecycle (reuse, reconnect, 503), migrations and indexes, against the real server."""

from __future__ import annotations

import socket

import psycopg
import pytest
from psycopg import sql

from interactions_api import db as db_module
from interactions_api import migrations
from interactions_api.db import database


def test_one_connection_is_reused_across_invocations(api, db):
    for _ in range(5):
        assert api.call("GET", "/health").status == 200
    api.record()
    assert len(api.backends(db)) == 1


def test_reconnects_after_the_server_drops_the_connection(api, db):
    first = api.record(user_id="before")
    old_pid = api.terminate_connection(db)

    fetched = api.call("GET", f"/interactions/{first['id']}")
    created = api.call("POST", "/interactions", body={"user_id": "after", "type": "click"})

    assert fetched.status == 200
    assert created.status == 201
    assert api.backends(db) != [old_pid]
    assert db.execute("SELECT user_id FROM interactions ORDER BY id").fetchall() == [("before",), ("after",)]


def test_a_read_whose_connection_breaks_mid_flight_is_retried(api, db, monkeypatch):
    api.record(user_id="u")
    # Blind the pre-use check so the drop is only discovered when the query fails.
    monkeypatch.setattr(db_module, "_server_hung_up", lambda conn: False)
    api.terminate_connection(db)

    response = api.call("GET", "/interactions")

    assert response.status == 200
    assert [i["user_id"] for i in response.body["items"]] == ["u"]


def test_a_write_whose_connection_breaks_mid_flight_is_503_and_not_retried(api, db, monkeypatch):
    api.record(user_id="u")
    monkeypatch.setattr(db_module, "_server_hung_up", lambda conn: False)
    api.terminate_connection(db)

    failed = api.call("POST", "/interactions", body={"user_id": "lost", "type": "click"})
    retried = api.call("POST", "/interactions", body={"user_id": "kept", "type": "click"})

    assert (failed.status, failed.body["error"]) == (503, "database_unavailable")
    assert retried.status == 201
    assert db.execute("SELECT user_id FROM interactions ORDER BY id").fetchall() == [("u",), ("kept",)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/health", None),
        ("POST", "/interactions", {"user_id": "u", "type": "click"}),
        ("GET", "/interactions", None),
        ("GET", "/interactions/1", None),
        ("GET", "/interactions/stats", None),
    ],
)
def test_every_route_answers_503_when_the_database_is_unreachable(api, monkeypatch, method, path, body):
    monkeypatch.setenv("DB_DSN", api.dsn("postgres", port=free_port()))
    database.reset()

    response = api.call(method, path, body=body)

    assert response.status == 503
    assert response.body == {
        "status": 503,
        "error": "database_unavailable",
        "message": "The database is unavailable; retry later",
        "fields": [],
    }


def test_the_api_recovers_once_the_database_is_back(api, monkeypatch, api_dbname):
    good = api.dsn(api_dbname)
    monkeypatch.setenv("DB_DSN", api.dsn(api_dbname, port=free_port()))
    database.reset()
    assert api.call("GET", "/health").status == 503

    monkeypatch.setenv("DB_DSN", good)
    database.reset()  # a new execution environment would read the corrected setting the same way
    assert api.call("GET", "/health").status == 200


@pytest.fixture
def empty_database(api):
    name = "cw_api_migrations_" + str(free_port())
    with psycopg.connect(api.dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(api.dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_migrations_apply_once_and_then_are_a_no_op(api, empty_database):
    shipped = [version for version, _ in migrations.available()]
    with psycopg.connect(api.dsn(empty_database), autocommit=True) as conn:
        assert migrations.apply(conn) == shipped == ["0001_create_interactions", "0002_occurred_at_range"]
        assert migrations.apply(conn) == []
        assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations")] == shipped


def test_the_handler_migrates_an_empty_database_on_first_connection(api, monkeypatch, empty_database):
    monkeypatch.setenv("DB_DSN", api.dsn(empty_database))
    database.reset()
    assert api.call("POST", "/interactions", body={"user_id": "u", "type": "click"}).status == 201


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        (
            "SELECT id FROM interactions WHERE user_id = %s ORDER BY occurred_at DESC, id DESC LIMIT 51",
            ("u",),
            "interactions_user_id_occurred_at_id_idx",
        ),
        (
            "SELECT id FROM interactions WHERE type = %s ORDER BY occurred_at DESC, id DESC LIMIT 51",
            ("click",),
            "interactions_type_occurred_at_id_idx",
        ),
        (
            "SELECT id FROM interactions WHERE (occurred_at, id) < (now(), 10) ORDER BY occurred_at DESC, id DESC"
            " LIMIT 51",
            (),
            "interactions_occurred_at_id_idx",
        ),
        (
            "SELECT type, count(*) FROM interactions WHERE occurred_at >= now() - interval '1 day' GROUP BY type",
            (),
            "interactions_occurred_at_id_idx",
        ),
    ],
)
def test_list_and_stats_queries_can_use_their_indexes(db, query, params, index):
    # The test table is tiny, so sequential scans are switched off to see which index the plan picks.
    with db.transaction():
        db.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in db.execute(sql.SQL("EXPLAIN " + query), params))
    assert index in plan, plan


# What RDS Proxy needs (see interactions_api.db): no `options` startup parameter, no SET, no
# server-side prepared statements; the statement timeout is the database's default instead.


def test_the_statement_timeout_is_the_databases_default_and_is_in_force(api, monkeypatch, empty_database):
    monkeypatch.setenv("DB_DSN", api.dsn(empty_database))
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "250")
    database.reset()
    assert api.call("GET", "/health").status == 200  # the first connection migrates and sets the default

    with psycopg.connect(api.dsn(empty_database), autocommit=True) as fresh:
        assert fresh.execute("SHOW statement_timeout").fetchone() == ("250ms",)
        with pytest.raises(psycopg.errors.QueryCanceled):
            fresh.execute("SELECT pg_sleep(2)")
    # The handler's own connections, from the next execution environment on, run under it too.
    database.reset()
    assert api.call("GET", "/health").status == 200
    assert database._conn.execute("SHOW statement_timeout").fetchone() == ("250ms",)


def test_the_statement_timeout_default_is_reconciled_idempotently(api, empty_database):
    def stored(conn):
        return conn.execute(
            "SELECT s.xmin::text, s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
            " WHERE d.datname = current_database() AND s.setrole = 0"
        ).fetchone()

    def role_defaults(conn):
        # ALTER ROLE would reach the role's sessions in every database of this shared local server.
        query = "SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting WHERE setrole <> 0"
        return conn.execute(query).fetchall()

    with psycopg.connect(api.dsn(empty_database), autocommit=True) as conn:
        roles_before = role_defaults(conn)
        assert migrations.apply(conn) == ["0001_create_interactions", "0002_occurred_at_range"]
        assert stored(conn) is None  # without a timeout the database's defaults are left alone

        assert migrations.apply(conn, statement_timeout_ms=5000) == []
        first = stored(conn)
        assert first[1] == ["statement_timeout=5000"]
        assert migrations.apply(conn, statement_timeout_ms=5000) == []
        assert stored(conn) == first  # same value: the row is not even rewritten

        assert migrations.apply(conn, statement_timeout_ms=3000) == []
        assert stored(conn)[1] == ["statement_timeout=3000"]
        assert migrations.apply(conn) == []
        assert migrations.statement_timeout_default(conn) == "3000"
        assert role_defaults(conn) == roles_before


def test_connections_pass_no_options_and_never_prepare_statements(api, monkeypatch):
    opened = []
    real_connect = psycopg.connect

    def spy(*args, **kwargs):
        opened.append((args, kwargs))
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(db_module.psycopg, "connect", spy)
    created = api.record()
    # psycopg would prepare a query server-side after its fifth execution by default.
    for _ in range(10):
        assert api.call("GET", f"/interactions/{created['id']}").status == 200
        assert api.call("GET", "/interactions").status == 200

    ((args, kwargs),) = opened
    assert "options" not in kwargs
    assert "options" not in " ".join(str(a) for a in args)
    assert database._conn.prepare_threshold is None
    assert database._conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
