"""The Dagster instance `make demo` and `make ui` share: dagster-postgres on the local PostgreSQL server.

The demo hands its URL to the Lambda handler as ``CW_DAGSTER_PG_URL`` (as CDK hands the aggregator
``CW_DAGSTER_PG_SECRET_ARN``); `make ui` writes the same storage into the ``dagster.yaml`` of its
``DAGSTER_HOME``. So the runs the demo makes through the handler appear in the UI's Runs page, with their
tags, next to the runs launched from the UI, as scheduled Lambda runs do next to UI runs in production.

- `ensure_database` creates the database (``dagster`` by default) if it is missing; Dagster creates its
  tables on first use.
- `choose` falls back when the server does not answer: the demo to an ephemeral instance, the UI to
  storage under its ``DAGSTER_HOME``; each says so in one line (docs/demo.md, "The shared Dagster instance").
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict

from cw_pipeline.runtime.instance import psycopg2_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/dagster"
MAINTENANCE_DATABASE = "postgres"  # where CREATE DATABASE is issued from
CONNECT_TIMEOUT_SECONDS = 5
ACCEPTED_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2")


class InstanceUnavailable(RuntimeError):
    """The PostgreSQL server of the shared instance did not answer, or refused; the message says which and why."""


@dataclass(frozen=True)
class SharedInstance:
    """Where this command's Dagster runs go: ``url`` (psycopg2 scheme, what dagster-postgres gets), or, when it
    is None, nowhere shared; ``note`` is the one line the command prints about it."""

    url: str | None
    note: str

    @property
    def shared(self) -> bool:
        return self.url is not None


def libpq_url(url: str) -> str:
    """``url`` as libpq (psycopg 3) reads it: the ``+psycopg2`` driver suffix, which only SQLAlchemy knows, removed."""
    scheme, separator, rest = url.strip().partition("://")
    if not separator or scheme not in ACCEPTED_SCHEMES:
        raise ValueError(f"not a PostgreSQL URL: {url!r}; expected postgresql://user@host:5432/dbname")
    return f"postgresql://{rest}"


def describe(url: str) -> str:
    """``database 'dagster' on 127.0.0.1:5432`` (no password)."""
    params = conninfo_to_dict(libpq_url(url))
    return f"database '{params.get('dbname', '?')}' on {params.get('host', 'localhost')}:{params.get('port', 5432)}"


def ensure_database(url: str) -> bool:
    """Create the database ``url`` names if it does not exist; True if it was created here.

    Raises `InstanceUnavailable` when the server does not answer or refuses the connection or the creation.
    """
    params = conninfo_to_dict(libpq_url(url))
    name = params.get("dbname")
    if not name:
        raise ValueError(f"the Dagster instance URL names no database: {url!r}")
    admin = {**params, "dbname": MAINTENANCE_DATABASE, "connect_timeout": CONNECT_TIMEOUT_SECONDS}
    try:
        with psycopg.connect(**admin, autocommit=True) as connection:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return False
            try:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except errors.DuplicateDatabase:  # another command created it in between
                return False
            return True
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InstanceUnavailable(f"cannot open {describe(url)}: {reason}") from error


def choose(url: str | None, fallback: str) -> SharedInstance:
    """The shared instance at ``url`` (its database created if missing), or, if ``url`` is None or the server
    does not answer, none, with a note saying why and what ``fallback`` happens instead."""
    if url is None:
        return SharedInstance(None, f"Dagster instance: {fallback} (shared instance turned off)")
    try:
        created = ensure_database(url)
    except InstanceUnavailable as error:
        return SharedInstance(
            None,
            f"Dagster instance: {fallback}, NOT shared: {error}. Start PostgreSQL (bash scripts/ensure-postgres.sh) "
            "or name another server with --dagster-pg-url.",
        )
    action = "created" if created else "found"
    return SharedInstance(psycopg2_url(url), f"Dagster instance: PostgreSQL {describe(url)} ({action}), shared")


def instance_yaml(url: str | None) -> str:
    """The ``dagster.yaml`` of `make ui`: dagster-postgres at ``url``, or Dagster's default storage under
    ``DAGSTER_HOME`` when ``url`` is None; telemetry off either way."""
    lines = [
        "# Written by `make ui` (cw_local/dagster_instance.py) at each start; edits are overwritten.",
        "telemetry:",
        "  enabled: false",
    ]
    if url is not None:
        # The psycopg2 scheme: SQLAlchemy maps a bare postgresql:// to psycopg 3, under which the webserver fails.
        lines += ["storage:", "  postgres:", f"    postgres_url: {json.dumps(psycopg2_url(url))}"]
    return "\n".join(lines) + "\n"


def write_instance_yaml(dagster_home: Path, url: str | None) -> Path:
    """``dagster_home/dagster.yaml`` (the directory created) for ``url``; see `instance_yaml`."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    path.write_text(instance_yaml(url))
    return path


def add_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--dagster-pg-url`` / ``--no-dagster-pg``, shared by `make demo` and `make ui`."""
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument(
        "--dagster-pg-url",
        default=DEFAULT_URL,
        help=f"PostgreSQL database of the Dagster instance {what} go to, created if missing "
        f"(default {DEFAULT_URL}, shared by make demo and make ui)",
    )
    choice.add_argument("--no-dagster-pg", action="store_true", help="do not use the shared Dagster instance")


def url_from_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The shared instance's URL from the arguments, None for --no-dagster-pg; a malformed URL is a usage error."""
    if args.no_dagster_pg:
        return None
    try:
        libpq_url(args.dagster_pg_url)
    except ValueError as error:
        parser.error(f"--dagster-pg-url: {error}")
    return args.dagster_pg_url
