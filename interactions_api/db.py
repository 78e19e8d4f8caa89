"""One PostgreSQL connection per Lambda execution environment, reused across invocations.

A Lambda execution environment serves one request at a time, so a single autocommit connection is
enough and avoids a pool's overhead; RDS sees at most one connection per concurrent execution.
The connection is re-established when the server has dropped it (failover, restart, idle kill):
before each use a zero-cost check looks for the server's goodbye on the socket, and a read whose
connection breaks mid-flight is retried once on a fresh connection. A write that breaks mid-flight
is not retried, because the server may already have committed it; the client gets 503 instead.

In AWS the connection goes through RDS Proxy (``DB_HOST``), which multiplexes client connections over
a small pool of server connections between transactions, unless a session gets "pinned" to one server
connection by session state. So nothing here creates session state: no libpq ``options`` startup
parameter (the proxy refuses it), no ``SET`` (the statement timeout is the database's default, set by
``migrations.apply``), and ``prepare_threshold=None`` so psycopg never prepares server-side statements
(by default it prepares a query after its fifth execution). The migrations' advisory lock is
transaction-scoped, which the proxy does not pin on.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from interactions_api import migrations
from interactions_api.config import DatabaseSettings

logger = Logger(child=True)
metrics = Metrics()

T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached or dropped the connection mid-request (the API answers 503)."""


class Database:
    def __init__(self, settings_loader: Callable[[], DatabaseSettings] = DatabaseSettings.from_env) -> None:
        self._settings_loader = settings_loader
        self._settings: DatabaseSettings | None = None
        self._conn: psycopg.Connection | None = None

    @property
    def settings(self) -> DatabaseSettings:
        if self._settings is None:
            self._settings = self._settings_loader()
        return self._settings

    def reset(self) -> None:
        """Forget the connection and the settings (tests switch databases between cases)."""
        self.close()
        self._settings = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def read(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run an idempotent unit of work, retrying once if the connection breaks under it."""
        try:
            return work(self._connection())
        except psycopg.OperationalError as exc:
            if not self._discard_if_broken():
                raise DatabaseUnavailable(str(exc)) from exc
            logger.warning("Connection lost during a read; retrying once on a new connection")
        try:
            return work(self._connection())
        except psycopg.OperationalError as exc:
            self._discard_if_broken()
            raise DatabaseUnavailable(str(exc)) from exc

    def write(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run a unit of work that must not be repeated blindly (see the module docstring)."""
        try:
            return work(self._connection())
        except psycopg.OperationalError as exc:
            self._discard_if_broken()
            raise DatabaseUnavailable(str(exc)) from exc

    def _discard_if_broken(self) -> bool:
        if self._conn is not None and (self._conn.broken or self._conn.closed):
            self._conn = None
            return True
        return False

    def _connection(self) -> psycopg.Connection:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken and not _server_hung_up(conn):
            return conn
        if conn is not None:
            logger.warning("Database connection was dropped by the server; reconnecting")
            metrics.add_metric(name="DatabaseReconnects", unit=MetricUnit.Count, value=1)
            conn.close()
            self._conn = None
        self._conn = self._connect()
        return self._conn

    def _connect(self) -> psycopg.Connection:
        settings = self.settings
        try:
            conn = self._open(settings, force_secret_fetch=False)
        except psycopg.OperationalError as first:
            if settings.secret_arn is None:
                raise DatabaseUnavailable(str(first)) from first
            # The secret may have been rotated since it was cached: fetch it again, once.
            try:
                conn = self._open(settings, force_secret_fetch=True)
            except psycopg.OperationalError as exc:
                raise DatabaseUnavailable(str(exc)) from exc
        try:
            if settings.migrate_on_connect:
                applied = migrations.apply(conn, statement_timeout_ms=settings.statement_timeout_ms)
                if applied:
                    logger.info("Applied database migrations", extra={"versions": applied})
        except psycopg.OperationalError as exc:
            conn.close()
            raise DatabaseUnavailable(str(exc)) from exc
        return conn

    @staticmethod
    def _open(settings: DatabaseSettings, force_secret_fetch: bool) -> psycopg.Connection:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": settings.connect_timeout_seconds,
            "application_name": settings.application_name,
            # No server-side prepared statements: through RDS Proxy they would pin the session.
            "prepare_threshold": None,
            # Detect a peer that vanished without closing (e.g. a failed-over instance) in seconds.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
        if settings.sslmode:
            kwargs["sslmode"] = settings.sslmode
        if settings.sslrootcert:
            kwargs["sslrootcert"] = settings.sslrootcert
        if settings.secret_arn is None:
            return psycopg.connect(settings.dsn or "", **kwargs)
        try:
            secret = parameters.get_secret(
                settings.secret_arn,
                transform="json",
                max_age=settings.secret_max_age_seconds,
                force_fetch=force_secret_fetch,
            )
        except GetParameterError as exc:
            raise DatabaseUnavailable(f"cannot read the database secret: {exc}") from exc
        return psycopg.connect(
            # DB_HOST is the RDS Proxy endpoint in AWS; the secret names the instance behind it.
            host=settings.host or secret["host"],
            port=settings.port or int(secret.get("port", 5432)),
            user=secret["username"],
            password=secret["password"],
            dbname=secret.get("dbname", "postgres"),
            **kwargs,
        )


def _server_hung_up(conn: psycopg.Connection) -> bool:
    """True when the idle connection's socket has something to read: an idle healthy connection
    receives nothing, whereas a terminated backend sends its FATAL notice and closes."""
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


database = Database()
