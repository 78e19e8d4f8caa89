"""Settings of the interactions API, read only from environment variables.

Set by the infrastructure (CDK) in AWS, or by ``make api`` locally:

``POWERTOOLS_SERVICE_NAME``
    Service name in logs and the metric dimension (e.g. ``cw-analytics-dev-api``).
``POWERTOOLS_METRICS_NAMESPACE``
    CloudWatch namespace of the custom metrics (e.g. ``CwAnalytics/Api``). Required when metrics are on.
``POWERTOOLS_LOG_LEVEL``
    Log level, ``INFO`` by default.
``DB_SECRET_ARN``
    ARN of the Secrets Manager secret holding the RDS credentials as RDS generates them
    (JSON with ``host``, ``port``, ``username``, ``password``, ``dbname``). Used in AWS.
``DB_HOST``
    Optional, with the secret only: the host to connect to instead of the secret's ``host``. In AWS the
    RDS Proxy endpoint, while the secret (rotated by RDS) keeps naming the instance. Ignored with
    ``DB_DSN``, whose own host applies (a ``DB_HOST`` left in a developer's shell cannot redirect it).
``DB_PORT``
    Optional, with the secret only: the port to use instead of the secret's ``port`` (5432 if absent).
``DB_DSN``
    A libpq connection string, used instead of the secret when ``DB_SECRET_ARN`` is unset (local runs).
``DB_SSLMODE``
    libpq ``sslmode``. Defaults to ``require`` with the secret (TLS to RDS); with ``DB_DSN`` the DSN's
    own setting, or libpq's ``prefer``, applies.
``DB_SSLROOTCERT``
    Path of a CA bundle (e.g. the RDS global bundle shipped with the function) for ``verify-full``.
``DB_CONNECT_TIMEOUT_SECONDS``
    Seconds to wait for a connection before answering 503, 5 by default.
``DB_STATEMENT_TIMEOUT_MS``
    Server-side statement timeout, 5000 by default: well under API Gateway's 29 s integration timeout.
    Applied as the database's default (``ALTER DATABASE <db> SET statement_timeout``) together with the
    migrations, not per connection: RDS Proxy refuses the libpq ``options`` startup parameter, and a
    ``SET`` would pin the client's session to one server connection. See ``migrations.apply``.
``DB_SECRET_MAX_AGE_SECONDS``
    How long the fetched secret is cached in the execution environment, 900 by default.
``DB_MIGRATE_ON_CONNECT``
    ``true`` (default) applies pending migrations when an execution environment first connects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# The 16 KiB payload limit keeps one interaction well inside a single PostgreSQL page group and the
# whole request far below API Gateway's 10 MB cap; the body limit adds room for the other fields.
MAX_PAYLOAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
MAX_PAYLOAD_DEPTH = 32
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
DEFAULT_STATS_WINDOW_HOURS = 24


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class DatabaseSettings:
    secret_arn: str | None
    dsn: str | None
    host: str | None
    port: int | None
    sslmode: str | None
    sslrootcert: str | None
    connect_timeout_seconds: int
    statement_timeout_ms: int
    secret_max_age_seconds: int
    migrate_on_connect: bool
    application_name: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DatabaseSettings:
        env = os.environ if environ is None else environ
        secret_arn = env.get("DB_SECRET_ARN") or None
        dsn = env.get("DB_DSN") or None
        if secret_arn is None and dsn is None:
            raise RuntimeError("Set DB_SECRET_ARN (in AWS) or DB_DSN (locally) to reach PostgreSQL")
        sslmode = env.get("DB_SSLMODE") or ("require" if secret_arn else None)
        return cls(
            secret_arn=secret_arn,
            dsn=dsn,
            host=env.get("DB_HOST") or None,
            port=int(env["DB_PORT"]) if env.get("DB_PORT") else None,
            sslmode=sslmode,
            sslrootcert=env.get("DB_SSLROOTCERT") or None,
            connect_timeout_seconds=int(env.get("DB_CONNECT_TIMEOUT_SECONDS", "5")),
            statement_timeout_ms=int(env.get("DB_STATEMENT_TIMEOUT_MS", "5000")),
            secret_max_age_seconds=int(env.get("DB_SECRET_MAX_AGE_SECONDS", "900")),
            migrate_on_connect=_flag(env.get("DB_MIGRATE_ON_CONNECT"), default=True),
            application_name=env.get("POWERTOOLS_SERVICE_NAME", "interactions-api")[:63],
        )
