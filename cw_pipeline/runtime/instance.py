"""The Dagster instance a Lambda invocation runs in.

- ``DAGSTER_HOME``: Dagster's home; ``/tmp/dagster_home`` when unset (only /tmp is writable on Lambda).
- ``CW_DAGSTER_PG_URL``: ``postgresql://user:password@host:5432/dbname``, where run, event log and
  schedule storage live (dagster-postgres).
- ``CW_DAGSTER_PG_SECRET_ARN``: instead of the URL, a Secrets Manager secret in the RDS shape
  (``host``, ``port``, ``username``, ``password``, ``dbname``) to build it from.

With neither set, every invocation runs in a fresh ephemeral (in-memory) instance: nothing outlives the
invocation and the Dagster UI never sees the run. With either, the instance is backed by dagster-postgres,
shared with the webserver, so the UI shows Lambda runs and their materializations; it is built once per
execution environment and reused by later invocations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from cw_pipeline.config import ConfigurationError

DEFAULT_DAGSTER_HOME = "/tmp/dagster_home"
PG_URL_VARIABLE = "CW_DAGSTER_PG_URL"
PG_SECRET_VARIABLE = "CW_DAGSTER_PG_SECRET_ARN"
EPHEMERAL, POSTGRES = "ephemeral", "postgres"
PSYCOPG2_SCHEME = "postgresql+psycopg2"

_shared: dict[str, DagsterInstance] = {}  # postgres URL -> instance, one per execution environment


@dataclass(frozen=True)
class InstanceChoice:
    mode: str  # EPHEMERAL or POSTGRES
    postgres_url: str | None = None


def prepare_environment(environ: dict[str, str] | None = None) -> Path:
    """DAGSTER_HOME under /tmp unless set, created; telemetry off. Returns DAGSTER_HOME."""
    environ = os.environ if environ is None else environ
    environ.setdefault("DAGSTER_HOME", DEFAULT_DAGSTER_HOME)
    environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
    home = Path(environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    return home


def choose_instance(environ: Mapping[str, str] | None = None, secrets_client=None) -> InstanceChoice:
    """Which instance the environment asks for; a secret ARN is resolved to a URL here."""
    environ = os.environ if environ is None else environ
    url = environ.get(PG_URL_VARIABLE, "").strip()
    arn = environ.get(PG_SECRET_VARIABLE, "").strip()
    if url and arn:
        raise ConfigurationError(f"set {PG_URL_VARIABLE} or {PG_SECRET_VARIABLE}, not both")
    if arn:
        url = postgres_url_from_secret(arn, secrets_client)
    if not url:
        return InstanceChoice(EPHEMERAL)
    return InstanceChoice(POSTGRES, psycopg2_url(url))


def psycopg2_url(url: str) -> str:
    """``url`` with the psycopg2 driver named: dagster-postgres is written for psycopg2, and SQLAlchemy 2.1
    maps a bare ``postgresql://`` to psycopg 3 (absent from the image; where present, dagster-postgres's
    ``NOTIFY run_events, %(notify_id)s`` fails under its server-side parameters)."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in ("postgresql", "postgres", PSYCOPG2_SCHEME):
        raise ConfigurationError(
            f"{PG_URL_VARIABLE} is not a PostgreSQL URL; expected postgresql://user:password@host:5432/dbname"
        )
    return f"{PSYCOPG2_SCHEME}://{rest}"


def postgres_url_from_secret(arn: str, secrets_client=None) -> str:
    """``postgresql://`` URL from a Secrets Manager secret in the RDS shape (host, port, username, password, dbname)."""
    if secrets_client is None:
        import boto3

        secrets_client = boto3.client("secretsmanager")
    try:
        secret = json.loads(secrets_client.get_secret_value(SecretId=arn)["SecretString"])
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(
            f"{PG_SECRET_VARIABLE}: secret {arn} is not a JSON string with host, port, username, password, dbname"
        ) from error
    missing = [key for key in ("host", "username", "password") if not secret.get(key)]
    if missing:
        raise ConfigurationError(f"{PG_SECRET_VARIABLE}: secret {arn} has no {', '.join(missing)}")
    user, password = quote(str(secret["username"]), safe=""), quote(str(secret["password"]), safe="")
    port = int(secret.get("port") or 5432)
    dbname = quote(str(secret.get("dbname") or "postgres"), safe="")
    return f"{PSYCOPG2_SCHEME}://{user}:{password}@{secret['host']}:{port}/{dbname}"


def postgres_instance(url: str, home: Path) -> DagsterInstance:
    """A dagster-postgres backed instance for ``url``, built once and reused (its tables are created if absent)."""
    instance = _shared.get(url)
    if instance is None:
        overrides = {"storage": {"postgres": {"postgres_url": url}}, "telemetry": {"enabled": False}}
        instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=overrides))
        _shared[url] = instance
    return instance


def ephemeral_instance(work_dir: Path) -> DagsterInstance:
    """An in-memory instance for one invocation, its local artifacts under ``work_dir``."""
    return DagsterInstance.ephemeral(tempdir=str(work_dir))


def dispose_shared() -> None:
    """Close every cached instance (tests; a Lambda environment keeps them until it is recycled)."""
    while _shared:
        _, instance = _shared.popitem()
        instance.dispose()
