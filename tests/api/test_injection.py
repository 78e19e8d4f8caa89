"""SQL-injection attempts are stored and matched as inert text."""

from __future__ import annotations

import pytest

ATTEMPTS = [
    "'; DROP TABLE interactions; --",
    "x' OR '1'='1",
    "1; UPDATE interactions SET user_id = 'pwned'",
    "$$; DELETE FROM interactions; $$",
    "%(user_id)s",
    "\\'; SELECT pg_sleep(10); --",
    "Robert'); DROP TABLE schema_migrations;--",
]


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_injection_text_is_stored_verbatim_and_only_matches_itself(api, db, attempt):
    bystander = api.record(user_id="innocent", type="click")
    stored = api.record(user_id=attempt, type="click", payload={attempt: attempt, "nested": [attempt]})

    fetched = api.call("GET", f"/interactions/{stored['id']}")
    listed = api.call("GET", "/interactions", query={"user_id": attempt})
    everyone = api.call("GET", "/interactions")

    assert fetched.body["user_id"] == attempt
    assert fetched.body["payload"] == {attempt: attempt, "nested": [attempt]}
    assert [i["id"] for i in listed.body["items"]] == [stored["id"]]
    assert sorted(i["id"] for i in everyone.body["items"]) == [bystander["id"], stored["id"]]
    assert db.execute("SELECT user_id FROM interactions ORDER BY id").fetchall() == [("innocent",), (attempt,)]
    assert db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] >= 1


def test_injection_in_a_cursor_is_a_malformed_cursor(api):
    response = api.call("GET", "/interactions", query={"cursor": "'); DROP TABLE interactions; --"})
    assert (response.status, response.body["fields"][0]["field"]) == (400, "cursor")
