"""occurred_at: only instants both PostgreSQL and the API can read back are stored (issue 10, failure 7).

``0001-01-01T00:00:00+14:00`` (a year-0 instant in UTC) or ``9999-12-31T23:59:59-14:00`` (year 10000)
used to be stored, answer 500, and then break every listing and GET for everyone.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from interactions_api import migrations
from interactions_api.db import database

ACCEPTED = {
    # sent: the same instant in UTC, written by hand
    "1970-01-01T00:00:00Z": datetime(1970, 1, 1, tzinfo=UTC),
    "1970-01-01T05:00:00+05:00": datetime(1970, 1, 1, tzinfo=UTC),
    "9999-12-30T23:59:59.999999Z": datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC),
    "9999-12-31T13:59:59+14:00": datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC),
}
REFUSED = [
    "0001-01-01T00:00:00+14:00",  # 0000-12-31T10:00Z: before year 1 in UTC
    "9999-12-31T23:59:59-14:00",  # 10000-01-01T13:59:59Z
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T04:59:59+05:00",  # 1969-12-31T23:59:59Z
    "9999-12-31T00:00:00Z",
]


@pytest.mark.parametrize("sent", ACCEPTED)
def test_the_edges_of_the_range_are_stored_and_read_back(api, db, sent):
    stored = api.record(occurred_at=sent)
    fetched = api.call("GET", f"/interactions/{stored['id']}")
    assert fetched.status == 200
    assert datetime.fromisoformat(fetched.body["occurred_at"]) == ACCEPTED[sent]
    assert db.execute("SELECT occurred_at FROM interactions").fetchall() == [(ACCEPTED[sent],)]


@pytest.mark.parametrize("sent", REFUSED)
def test_an_instant_outside_the_range_is_refused_and_not_stored(api, db, sent):
    response = api.call("POST", "/interactions", body={"user_id": "u", "type": "click", "occurred_at": sent})
    assert response.status == 422
    [field] = response.body["fields"]
    assert (field["field"], field["type"]) == ("occurred_at", "occurred_at_out_of_range")
    assert "1970-01-01T00:00:00Z" in field["message"] and "9999-12-31T00:00:00Z" in field["message"]
    assert db.execute("SELECT count(*) FROM interactions").fetchone() == (0,)


def test_one_bad_request_no_longer_breaks_listing_for_everyone(api, db):
    good = api.record(user_id="alice", type="click", occurred_at="2026-11-20T12:00:00Z")
    for bad in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        body = {"user_id": "mallory", "type": "click", "occurred_at": bad}
        assert api.call("POST", "/interactions", body=body).status == 422

    for query in (None, {"type": "click"}, {"since": "1970-01-01T00:00:00Z"}, {"user_id": "alice"}):
        listed = api.call("GET", "/interactions", query=query)
        assert listed.status == 200 and [i["id"] for i in listed.body["items"]] == [good["id"]]
    assert api.call("GET", f"/interactions/{good['id']}").status == 200
    assert api.call("GET", "/interactions/stats", query={"since": "1970-01-01T00:00:00Z"}).body["total"] == 1


def test_the_database_refuses_such_rows_from_any_writer(db):
    with pytest.raises(psycopg.errors.CheckViolation, match="interactions_occurred_at_readable"):
        db.execute(
            "INSERT INTO interactions (user_id, type, occurred_at) VALUES ('u', 'click', %s)",
            ("0001-01-01T00:00:00+14:00",),
        )


@pytest.fixture
def database_with_a_bad_row(api):
    """A database as the API left it before this fix: migrated to 0001 only, one unreadable row stored."""
    name = f"cw_api_bad_row_{datetime.now(UTC):%H%M%S%f}"
    with psycopg.connect(api.dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    version, first = migrations.available()[0]
    with psycopg.connect(api.dsn(name), autocommit=True) as conn:
        conn.execute(first)
        conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz DEFAULT now())")
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        conn.execute(
            "INSERT INTO interactions (user_id, type, occurred_at) VALUES ('ok', 'click', '2026-11-20T12:00Z')"
        )
        conn.execute("INSERT INTO interactions (user_id, type, occurred_at) VALUES ('bad', 'click', %s)",
                     ("9999-12-31T23:59:59-14:00",))  # fmt: skip
    yield name
    with psycopg.connect(api.dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_a_bad_row_stored_before_the_fix_is_quarantined_by_the_migration(api, monkeypatch, database_with_a_bad_row):
    monkeypatch.setenv("DB_DSN", api.dsn(database_with_a_bad_row))
    database.reset()
    listed = api.call("GET", "/interactions")  # the first connection applies 0002
    assert listed.status == 200 and [i["user_id"] for i in listed.body["items"]] == ["ok"]
    with psycopg.connect(api.dsn(database_with_a_bad_row), autocommit=True) as conn:
        query = "SELECT user_id, (occurred_at AT TIME ZONE 'UTC')::text FROM interactions_quarantine"
        moved = conn.execute(query).fetchall()
    assert moved == [("bad", "10000-01-01 13:59:59")]  # kept whole, for an operator to look at
