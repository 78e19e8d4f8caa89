"""Schema migrations: the numbered ``*.sql`` files in this folder, applied in order, once each.

Applied versions are recorded in ``schema_migrations``. Every pending file runs in one transaction
under an advisory lock, so concurrent cold starts neither apply a file twice nor see half a schema.
"""

from __future__ import annotations

from importlib import resources

import psycopg

# Any constant shared by every process that migrates this database.
_LOCK_KEY = 0x1A7E_4AC7

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def available() -> list[tuple[str, str]]:
    """(version, SQL) of every migration shipped with the code, in order."""
    files = [f for f in resources.files(__package__).iterdir() if f.name.endswith(".sql")]
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in sorted(files, key=lambda f: f.name)]


def _applied(conn: psycopg.Connection) -> set[str]:
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def apply(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; return the versions applied now (empty when up to date)."""
    migrations = available()
    # Fast path for warm databases: one read, no lock.
    if {version for version, _ in migrations} <= _applied(conn):
        return []
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(_CREATE_LEDGER)
        done = _applied(conn)
        for version, sql in migrations:
            if version in done:
                continue
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now
