"""Schema migrations: the numbered ``*.sql`` files in this folder, applied in order, once each.

Applied versions are recorded in ``schema_migrations``. Every pending file runs in one transaction
under an advisory lock, so concurrent cold starts neither apply a file twice nor see half a schema.
The lock is transaction-scoped (``pg_advisory_xact_lock``), which RDS Proxy does not pin on.

The statement timeout (``DB_STATEMENT_TIMEOUT_MS``) is applied here as well, in the same transaction,
as the database's default: ``ALTER DATABASE <current database> SET statement_timeout``. It cannot be
a per-connection setting behind RDS Proxy (the proxy refuses the libpq ``options`` startup parameter,
and a ``SET`` pins the client's session to one server connection), and it cannot be a numbered SQL
file, which could not read the setting. So it is reconciled on every migration pass instead: read the
database's default, alter it only when it differs. The default applies to sessions that start after
the change, for every role connecting to this database (not ``ALTER ROLE``, which would reach the
role's sessions in every database of the server); the role must own the database, as the RDS master
user owns the one RDS creates.
"""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg import sql

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


def statement_timeout_default(conn: psycopg.Connection) -> str | None:
    """The ``statement_timeout`` the current database gives new sessions for all roles, as stored."""
    row = conn.execute(
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
        " WHERE d.datname = current_database() AND s.setrole = 0"
    ).fetchone()
    for entry in row[0] if row and row[0] else []:
        name, _, value = entry.partition("=")
        if name == "statement_timeout":
            return value
    return None


def apply(conn: psycopg.Connection, *, statement_timeout_ms: int | None = None) -> list[str]:
    """Apply pending migrations; return the versions applied now (empty when up to date).

    With ``statement_timeout_ms``, also make it the database's default statement timeout if it is not
    already (see the module docstring); ``None`` leaves the database's default alone."""
    migrations = available()
    wanted = None if statement_timeout_ms is None else str(statement_timeout_ms)

    def timeout_is_current() -> bool:
        return wanted is None or statement_timeout_default(conn) == wanted

    # Fast path for warm databases: reads only, no lock.
    if {version for version, _ in migrations} <= _applied(conn) and timeout_is_current():
        return []
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(_CREATE_LEDGER)
        done = _applied(conn)
        for version, text in migrations:
            if version in done:
                continue
            conn.execute(text)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
        if not timeout_is_current():
            (dbname,) = conn.execute("SELECT current_database()").fetchone()
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET statement_timeout = {}").format(
                    sql.Identifier(dbname), sql.Literal(wanted)
                )
            )
    return applied_now
