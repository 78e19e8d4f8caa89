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

What a run over many windows costs Dagster (docs/lambda.md, "Long backfills"):

- ``DAGSTER_EVENT_BATCH_SIZE`` (`EVENT_BATCH_SIZE` unless set): a range run's materializations, one per window
  and asset, are written in batches (dagster-postgres inserts a batch in one statement, the ephemeral
  instance's event log, `cw_pipeline.runtime.event_storage`, in one transaction) instead of one by one.
- ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS`` (`planned_events`): a run over more than
  `PLANNED_PER_WINDOW_MAX` windows records its plan once per asset, not once per window and asset. Dagster
  derives a window's "failed" status from a per-window plan with no materialization, so such a run, if it
  fails, leaves its windows missing in the asset's partitions, not failed; the run itself is failed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
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

# Both read by Dagster from the environment each time it needs them, so they can be set per run.
EVENT_BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
# Large enough that a run over CW_MAX_BACKFILL_WINDOWS (4,032) writes each asset's materializations in a few
# statements; a batch of 1,000 events of the pipeline's metadata is a few MB of SQL.
EVENT_BATCH_SIZE = "1000"
SUBSET_PLANNED_VARIABLE = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
# An hour of windows: a scheduled run (1 + CW_LOOKBACK_WINDOWS) stays well below it and keeps its per-window
# plan, whose cost (4 events a window) only matters for backfills.
PLANNED_PER_WINDOW_MAX = 12

_shared: dict[str, DagsterInstance] = {}  # postgres URL -> instance, one per execution environment


@dataclass(frozen=True)
class InstanceChoice:
    mode: str  # EPHEMERAL or POSTGRES
    postgres_url: str | None = None


def prepare_environment(environ: dict[str, str] | None = None) -> Path:
    """DAGSTER_HOME under /tmp unless set, created; telemetry off; events batched. Returns DAGSTER_HOME."""
    environ = os.environ if environ is None else environ
    environ.setdefault("DAGSTER_HOME", DEFAULT_DAGSTER_HOME)
    environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
    environ.setdefault(EVENT_BATCH_SIZE_VARIABLE, EVENT_BATCH_SIZE)
    home = Path(environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    return home


@contextmanager
def planned_events(windows: int, environ: MutableMapping[str, str] | None = None) -> Iterator[None]:
    """Around the creation of a run over ``windows`` windows: one planned event per asset when there are more
    than `PLANNED_PER_WINDOW_MAX` of them, instead of one per window and asset (8,064 for a 7-day backfill
    of the four assets). Dagster reads the variable when it creates the run; an operator's own setting of it
    is left as it is.
    """
    environ = os.environ if environ is None else environ
    if windows <= PLANNED_PER_WINDOW_MAX or SUBSET_PLANNED_VARIABLE in environ:
        yield
        return
    environ[SUBSET_PLANNED_VARIABLE] = "1"
    try:
        yield
    finally:
        environ.pop(SUBSET_PLANNED_VARIABLE, None)


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
    """An in-memory instance for one invocation, its local artifacts under ``work_dir``; its event log writes a
    batch of materializations at once (`cw_pipeline.runtime.event_storage`)."""
    # Imported here, as DagsterInstance.ephemeral imports its storages: ~0.7 s of SQLAlchemy and Dagster storage
    # modules that would otherwise move into the Lambda's Init phase.
    from cw_pipeline.runtime import event_storage

    return event_storage.ephemeral_instance(str(work_dir))


def dispose_shared() -> None:
    """Close every cached instance (tests; a Lambda environment keeps them until it is recycled)."""
    while _shared:
        _, instance = _shared.popitem()
        instance.dispose()
