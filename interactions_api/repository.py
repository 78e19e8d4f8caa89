"""SQL of the interactions API. Every value travels as a bound parameter; the only SQL assembled at
run time is the choice among fixed WHERE fragments, so user input never becomes SQL text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from interactions_api.cursor import Cursor
from interactions_api.models import Interaction, InteractionCreate, InteractionStats, TypeCount

_COLUMNS = sql.SQL("id, user_id, type, payload, occurred_at, created_at")


def insert(conn: psycopg.Connection, new: InteractionCreate) -> Interaction:
    # Committed only once the row has been read back into an Interaction: a row the API could not read
    # (and so could never list again) is rolled back, not left behind a 500.
    with conn.transaction():
        return _insert(conn, new)


def _insert(conn: psycopg.Connection, new: InteractionCreate) -> Interaction:
    row = conn.execute(
        sql.SQL(
            "INSERT INTO interactions (user_id, type, payload, occurred_at)"
            " VALUES (%(user_id)s, %(type)s, %(payload)s, COALESCE(%(occurred_at)s, now()))"
            " RETURNING {}"
        ).format(_COLUMNS),
        {
            "user_id": new.user_id,
            "type": new.type,
            "payload": None if new.payload is None else Jsonb(new.payload),
            "occurred_at": new.occurred_at,
        },
    )
    return _interaction(row.fetchone())


def get(conn: psycopg.Connection, interaction_id: int) -> Interaction | None:
    row = conn.execute(
        sql.SQL("SELECT {} FROM interactions WHERE id = %s").format(_COLUMNS), (interaction_id,)
    ).fetchone()
    return None if row is None else _interaction(row)


def page(
    conn: psycopg.Connection,
    *,
    user_id: str | None,
    interaction_type: str | None,
    since: datetime | None,
    after: Cursor | None,
    limit: int,
) -> tuple[list[Interaction], Cursor | None]:
    """Newest first; returns the page and the cursor of its last row when more rows follow."""
    conditions: list[sql.Composable] = []
    params: dict[str, Any] = {"fetch": limit + 1}
    if user_id is not None:
        conditions.append(sql.SQL("user_id = %(user_id)s"))
        params["user_id"] = user_id
    if interaction_type is not None:
        conditions.append(sql.SQL("type = %(type)s"))
        params["type"] = interaction_type
    if since is not None:
        conditions.append(sql.SQL("occurred_at >= %(since)s"))
        params["since"] = since
    if after is not None:
        # Row comparison keeps the scan on the (occurred_at DESC, id DESC) index order.
        conditions.append(sql.SQL("(occurred_at, id) < (%(after_at)s, %(after_id)s)"))
        params["after_at"] = after.occurred_at
        params["after_id"] = after.id
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
    query = sql.SQL("SELECT {} FROM interactions{} ORDER BY occurred_at DESC, id DESC LIMIT %(fetch)s").format(
        _COLUMNS, where
    )
    rows = conn.execute(query, params).fetchall()
    items = [_interaction(row) for row in rows[:limit]]
    more = len(rows) > limit
    return items, (Cursor(occurred_at=items[-1].occurred_at, id=items[-1].id) if more else None)


def stats(conn: psycopg.Connection, since: datetime) -> InteractionStats:
    rows = conn.execute(
        "SELECT type, count(*) AS n FROM interactions WHERE occurred_at >= %s GROUP BY type ORDER BY n DESC, type",
        (since,),
    ).fetchall()
    by_type = [TypeCount(type=row[0], count=row[1]) for row in rows]
    return InteractionStats(since=since, total=sum(c.count for c in by_type), by_type=by_type)


def ping(conn: psycopg.Connection) -> None:
    conn.execute("SELECT 1").fetchone()


def _interaction(row: Any) -> Interaction:
    interaction_id, user_id, interaction_type, payload, occurred_at, created_at = row
    return Interaction(
        id=interaction_id,
        user_id=user_id,
        type=interaction_type,
        payload=payload,
        occurred_at=occurred_at,
        created_at=created_at,
    )
