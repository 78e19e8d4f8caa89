"""One naming function per kind of name: AWS resources, DynamoDB keys.

Every named AWS resource is ``cw-analytics-{env}-{resource}`` so that environments coexist in one
account; the CDK app, the local emulator and the pipeline's defaults all call `resource_name`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

PROJECT = "cw-analytics"

_ENV_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,15}$")

# The short names of the resources the project creates, in one place.
METRICS_TABLE = "metrics"
ALERTS_TOPIC = "alerts"
API = "api"
API_FUNCTION = "api-handler"
AGGREGATOR_FUNCTION = "aggregator"
DATABASE = "db"
DASHBOARD = "dashboard"
REPORTS_BUCKET = "reports"

# The sort key (and window_start/window_end) format of every item the pipeline writes.
WINDOW_SK_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def validate_env(env: str) -> str:
    """Return ``env`` if it can be part of every resource name, else raise ValueError saying why."""
    if not _ENV_PATTERN.match(env):
        raise ValueError(
            f"environment suffix {env!r} is not usable in resource names: expected 1-16 characters, "
            "lower-case letters, digits and '-', starting with a letter (for example 'dev' or 'qa')"
        )
    return env


def resource_name(env: str, resource: str) -> str:
    """``cw-analytics-{env}-{resource}``, e.g. ``resource_name("dev", "api") == "cw-analytics-dev-api"``."""
    return f"{PROJECT}-{validate_env(env)}-{resource}"


def window_sk(window_start: datetime) -> str:
    """The sort key of a window: its UTC start as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if window_start.tzinfo is None:
        raise ValueError(f"window start {window_start!r} has no time zone; expected an aware UTC datetime")
    return window_start.astimezone(UTC).strftime(WINDOW_SK_FORMAT)


def parse_window_sk(sk: str) -> datetime:
    return datetime.strptime(sk, WINDOW_SK_FORMAT).replace(tzinfo=UTC)


def aggregate_pk(service: str, resource: str) -> str:
    """Partition key of a resource's aggregates: ``{service}#{resource}``."""
    return f"{service}#{resource}"


def evaluation_pk(rule_id: str, resource: str) -> str:
    """Partition key of a rule's evaluations for one resource: ``alert#{rule_id}#{resource}``."""
    return f"alert#{rule_id}#{resource}"


def slo_evaluation_pk(slo_id: str, severity: str, resource: str) -> str:
    """Partition key of an SLO's burn-rate evaluations at one severity for one resource:
    ``slo#{slo_id}#{severity}#{resource}``."""
    return f"slo#{slo_id}#{severity}#{resource}"


def slo_history_pk(service: str, resource: str) -> str:
    """Partition key of a resource's SLO history (`cw_pipeline.slo_history`): ``slo_history#{service}#{resource}``."""
    return f"slo_history#{service}#{resource}"


def slo_report_key(day_start: datetime) -> str:
    """Object key of a daily SLO report: ``slo-reports/YYYY-MM-DD.html`` (the UTC day it covers)."""
    if day_start.tzinfo is None:
        raise ValueError(f"report day {day_start!r} has no time zone; expected an aware UTC datetime")
    return f"{SLO_REPORTS_PREFIX}{day_start.astimezone(UTC):%Y-%m-%d}.html"


# Where daily SLO reports go, in the reports bucket or the local reports directory; the IAM grant names it too.
SLO_REPORTS_PREFIX = "slo-reports/"

# Partitions of the metrics table that hold the pipeline's own bookkeeping, not data: the run lease
# (`cw_pipeline.lease`) and the notifications not yet recorded as sent (`cw_pipeline.outbox`). They are the
# only items the pipeline deletes, and the aggregator's IAM role may delete nothing else.
LEASE_PARTITION = "lease"
OUTBOX_PARTITION = "outbox"

# The metrics table's key schema and TTL attribute: the CDK table and the local emulator's both use these.
TABLE_PARTITION_KEY = "pk"
TABLE_SORT_KEY = "sk"
TABLE_TTL_ATTRIBUTE = "expires_at"


# What each kind of item of the metrics table is called (README, "Data contract"), by partition key prefix.
AGGREGATE, EVALUATION, BURN_RATE, SLO_HISTORY = "aggregate", "evaluation", "burn_rate", "slo_history"
_KINDS_BY_PREFIX = (("alert#", EVALUATION), ("slo#", BURN_RATE), ("slo_history#", SLO_HISTORY))


def item_kind(pk: str) -> str:
    """The kind of an item of the metrics table from its partition key: `EVALUATION` (`evaluation_pk`),
    `BURN_RATE` (`slo_evaluation_pk`), `SLO_HISTORY` (`slo_history_pk`), the bookkeeping partitions by
    their own names (`LEASE_PARTITION`, `OUTBOX_PARTITION`), else `AGGREGATE` (`aggregate_pk`)."""
    if pk in (LEASE_PARTITION, OUTBOX_PARTITION):
        return pk
    return next((kind for prefix, kind in _KINDS_BY_PREFIX if pk.startswith(prefix)), AGGREGATE)
