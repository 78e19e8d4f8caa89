"""Every route of the interactions API, through the real handler and a real PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

T0 = datetime(2024, 11, 26, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_post_records_the_recorded_event_and_returns_201_with_the_stored_row(api, db):
    event = api.make_event("POST", "/interactions")
    sent = json.loads(event["body"])

    response = api.invoke(event)

    assert response.status == 201
    body = response.body
    assert body["id"] == 1
    assert (body["user_id"], body["type"], body["payload"]) == (sent["user_id"], sent["type"], sent["payload"])
    assert parse(body["occurred_at"]) == datetime.fromisoformat(sent["occurred_at"])
    row = db.execute("SELECT user_id, type, payload, occurred_at, created_at FROM interactions").fetchall()
    assert row == [
        (sent["user_id"], sent["type"], sent["payload"], datetime.fromisoformat(sent["occurred_at"]), row[0][4])
    ]
    assert parse(body["created_at"]) == row[0][4]


def test_post_without_occurred_at_or_payload_uses_server_time_and_null(api, db):
    before = db.execute("SELECT now()").fetchone()[0]
    body = api.record(user_id="u-7", type="signup")
    after = db.execute("SELECT clock_timestamp()").fetchone()[0]

    assert body["payload"] is None
    assert before <= parse(body["occurred_at"]) <= after
    assert db.execute("SELECT payload IS NULL FROM interactions WHERE id = %s", (body["id"],)).fetchone() == (True,)


def test_get_returns_the_stored_interaction_and_404_for_an_unknown_id(api):
    stored = api.record(user_id="u-1", type="click", payload={"button": "buy", "n": [1, 2.5, None, True]})

    found = api.call("GET", f"/interactions/{stored['id']}")
    missing = api.call("GET", f"/interactions/{stored['id'] + 1}")

    assert (found.status, found.body) == (200, stored)
    assert missing.status == 404
    assert missing.body["fields"][0]["field"] == "interaction_id"


def test_list_filters_by_user_type_and_since_newest_first(api):
    rows = [
        api.record(user_id=user, type=kind, occurred_at=iso(T0 + timedelta(minutes=minute)))
        for minute, (user, kind) in enumerate(
            [("alice", "click"), ("bob", "click"), ("alice", "view"), ("alice", "click"), ("bob", "view")]
        )
    ]
    newest_first = sorted(rows, key=lambda r: (r["occurred_at"], r["id"]), reverse=True)

    def ids(**query: str) -> list[int]:
        response = api.call("GET", "/interactions", query=query)
        assert response.status == 200, response.body
        assert response.body["next_cursor"] is None
        return [item["id"] for item in response.body["items"]]

    assert ids() == [r["id"] for r in newest_first]
    assert ids(user_id="alice") == [r["id"] for r in newest_first if r["user_id"] == "alice"]
    assert ids(type="view") == [r["id"] for r in newest_first if r["type"] == "view"]
    assert ids(user_id="alice", type="click") == [
        r["id"] for r in newest_first if (r["user_id"], r["type"]) == ("alice", "click")
    ]
    since = T0 + timedelta(minutes=2)
    assert ids(since=iso(since)) == [r["id"] for r in newest_first if parse(r["occurred_at"]) >= since]
    assert ids(user_id="nobody") == []


def test_pagination_walks_every_row_once_across_pages_including_timestamp_ties(api):
    # Three rows share each timestamp, so the id tie-breaker decides the order inside a page boundary.
    rows = [
        api.record(user_id=f"u{i % 4}", type="click", occurred_at=iso(T0 + timedelta(seconds=i // 3)))
        for i in range(23)
    ]
    expected = [r["id"] for r in sorted(rows, key=lambda r: (parse(r["occurred_at"]), r["id"]), reverse=True)]

    seen, pages, cursor = [], 0, None
    while True:
        query = {"limit": "5"} | ({"cursor": cursor} if cursor else {})
        response = api.call("GET", "/interactions", query=query)
        assert response.status == 200, response.body
        pages += 1
        seen += [item["id"] for item in response.body["items"]]
        cursor = response.body["next_cursor"]
        if cursor is None:
            break

    assert seen == expected
    assert pages == 5  # 5 + 5 + 5 + 5 + 3


def test_pagination_keeps_the_filters_and_ends_exactly_on_a_full_page(api):
    rows = [api.record(user_id="carol" if i % 2 else "dave", type="view") for i in range(8)]
    carol = [r["id"] for r in sorted(rows, key=lambda r: (r["occurred_at"], r["id"]), reverse=True)]
    carol = [i for i in carol if next(r for r in rows if r["id"] == i)["user_id"] == "carol"]

    first = api.call("GET", "/interactions", query={"user_id": "carol", "limit": "2"})
    second = api.call(
        "GET", "/interactions", query={"user_id": "carol", "limit": "2", "cursor": first.body["next_cursor"]}
    )

    assert [i["id"] for i in first.body["items"] + second.body["items"]] == carol
    assert len(carol) == 4
    assert second.body["next_cursor"] is None


def test_stats_counts_per_type_since_the_given_instant(api):
    kinds = ["click"] * 5 + ["view"] * 3 + ["signup"] * 1 + ["purchase"] * 3
    for minute, kind in enumerate(kinds):
        api.record(type=kind, occurred_at=iso(T0 + timedelta(minutes=minute)))
    since = T0 + timedelta(minutes=4)
    expected = Counter(kind for minute, kind in enumerate(kinds) if minute >= 4)

    response = api.call("GET", "/interactions/stats", query={"since": iso(since)})

    assert response.status == 200
    assert parse(response.body["since"]) == since
    assert response.body["total"] == sum(expected.values()) == 8
    by_type = [(c["type"], c["count"]) for c in response.body["by_type"]]
    assert by_type == sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))
    assert by_type == [("purchase", 3), ("view", 3), ("click", 1), ("signup", 1)]


def test_stats_default_to_the_last_24_hours(api):
    now = datetime.now(UTC)
    api.record(type="old", occurred_at=iso(now - timedelta(hours=25)))
    api.record(type="recent", occurred_at=iso(now - timedelta(hours=23)))

    response = api.call("GET", "/interactions/stats")

    assert response.status == 200
    assert response.body["by_type"] == [{"type": "recent", "count": 1}]
    assert abs(parse(response.body["since"]) - (now - timedelta(hours=24))) < timedelta(minutes=1)


def test_health_checks_the_database(api):
    response = api.invoke(api.make_event("GET", "/health"))
    assert (response.status, response.body) == (200, {"status": "ok", "database": "ok"})


def test_the_recorded_events_are_served_as_recorded(api):
    # The fixtures chain: the POST records user-42's interaction with id 1 on 2024-11-26, which the
    # recorded GET, list (user_id=user-42) and stats (since 2024-11-26) events then find.
    created = api.invoke(api.load_event("post_interaction"))
    fetched = api.invoke(api.load_event("get_interaction"))
    listed = api.invoke(api.load_event("list_interactions"))
    stats = api.invoke(api.load_event("interaction_stats"))
    health = api.invoke(api.load_event("health"))

    assert (created.status, created.body["id"]) == (201, 1)
    assert (fetched.status, fetched.body) == (200, created.body)
    assert (listed.status, listed.body) == (200, {"items": [created.body], "next_cursor": None})
    assert (stats.status, stats.body["by_type"]) == (200, [{"type": "page_view", "count": 1}])
    assert health.status == 200
