"""The pipeline's configuration contract, read from the environment in one place.

| variable | meaning | default |
| --- | --- | --- |
| ``CW_ENV`` | environment suffix of every resource name | ``dev`` |
| ``CW_METRICS_TABLE`` | DynamoDB table of aggregates and evaluations | ``cw-analytics-{env}-metrics`` |
| ``CW_ALERTS_TOPIC_ARN`` | SNS topic for alert transitions; empty sends none | empty |
| ``CW_DISCOVERY`` | how the monitored resources are found: ``names``, ``tags`` or ``metrics`` | ``names`` |
| ``CW_API_NAMES`` | (``names``) API Gateway ``ApiName`` values, comma-separated | ``cw-analytics-{env}-api`` |
| ``CW_FUNCTION_NAMES`` | (``names``) Lambda ``FunctionName`` values | ``cw-analytics-{env}-api-handler`` |
| ``CW_DB_INSTANCE_IDS`` | (``names``) RDS ``DBInstanceIdentifier`` values | ``cw-analytics-{env}-db`` |
| ``CW_DISCOVERY_TAGS`` | (``tags``, required) ``key=value,key=value``; every key must match | none |
| ``CW_EXCLUDE`` | glob patterns matched against ``name`` and ``service:name``, after discovery | none |
| ``CW_SETTLE_SECONDS`` | how long after a window ends before it is pulled | ``120`` |
| ``CW_LOOKBACK_WINDOWS`` | earlier windows re-read by each scheduled run | ``1`` |
| ``CW_RETENTION_DAYS`` | item TTL, counted from the window start | ``90`` |
| ``CW_MAX_BACKFILL_WINDOWS`` | the most windows one run may cover | ``4032`` (14 days) |
| ``CW_REPORTS_BUCKET`` | S3 bucket of the daily SLO reports; empty writes them to ``CW_REPORTS_DIR`` | empty |
| ``CW_REPORTS_DIR`` | local directory of the reports when no bucket is set | ``.demo/reports`` |

Where calls go (region, endpoint, credentials) is left to the standard AWS configuration
(``AWS_REGION``, ``AWS_ENDPOINT_URL``, profiles); nothing here names an endpoint.

With ``CW_DISCOVERY=tags`` or ``metrics`` the resources are found at the start of every run
(`cw_pipeline.discovery`), so ``resources`` is empty here and the name lists must be unset: Lambda allows
4 KB for a function's whole environment, and 1,000 function names alone take about 13 KB. A tag key given
twice in ``CW_DISCOVERY_TAGS`` matches either value (``team=orders,team=payments``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from cw_pipeline import naming
from cw_pipeline.catalog import SERVICES, Service

DEFAULT_REPORTS_DIR = ".demo/reports"


class ConfigurationError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


class Discovery(StrEnum):
    NAMES = "names"  # the CW_*_NAMES lists (or the project's own resources)
    TAGS = "tags"  # Resource Groups Tagging API GetResources, filtered by CW_DISCOVERY_TAGS
    METRICS = "metrics"  # CloudWatch ListMetrics, RecentlyActive=PT3H, over the catalog's metrics


@dataclass(frozen=True)
class MonitoredResource:
    service: Service
    name: str  # the value of the service's CloudWatch dimension

    @property
    def pk(self) -> str:
        return naming.aggregate_pk(self.service.value, self.name)


@dataclass(frozen=True)
class Settings:
    env: str
    metrics_table: str
    alerts_topic_arn: str
    resources: tuple[MonitoredResource, ...]  # empty unless discovery is NAMES
    settle_seconds: int = 120
    lookback_windows: int = 1
    retention_days: int = 90
    max_backfill_windows: int = 4032
    reports_bucket: str = ""
    reports_dir: str = DEFAULT_REPORTS_DIR
    discovery: Discovery = Discovery.NAMES
    discovery_tags: tuple[tuple[str, str], ...] = ()  # (key, value) pairs, in the order given
    exclude: tuple[str, ...] = ()  # glob patterns

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        try:
            env = naming.validate_env(environ.get("CW_ENV", "dev").strip() or "dev")
        except ValueError as error:
            raise ConfigurationError(f"CW_ENV: {error}") from error
        discovery = _discovery(environ)
        if discovery is Discovery.NAMES:
            resources = tuple(
                MonitoredResource(service, name)
                for service, spec in SERVICES.items()
                for name in _names(environ, spec.config_variable, naming.resource_name(env, spec.default_resource))
            )
        else:
            resources = ()
            listed = [spec.config_variable for spec in SERVICES.values() if environ.get(spec.config_variable)]
            if listed:
                raise ConfigurationError(
                    f"{', '.join(listed)} set with CW_DISCOVERY={discovery.value}, which finds the resources itself; "
                    "unset the name lists, or set CW_DISCOVERY=names to watch exactly those names"
                )
        tags = _tags(environ)
        if discovery is Discovery.TAGS and not tags:
            raise ConfigurationError(
                "CW_DISCOVERY=tags needs CW_DISCOVERY_TAGS, e.g. 'team=orders,env=prod' (every key must match)"
            )
        if tags and discovery is not Discovery.TAGS:
            raise ConfigurationError(
                f"CW_DISCOVERY_TAGS is only read with CW_DISCOVERY=tags, not CW_DISCOVERY={discovery.value}; unset it"
            )
        return cls(
            env=env,
            metrics_table=environ.get("CW_METRICS_TABLE", "").strip()
            or naming.resource_name(env, naming.METRICS_TABLE),
            alerts_topic_arn=environ.get("CW_ALERTS_TOPIC_ARN", "").strip(),
            resources=resources,
            settle_seconds=_integer(environ, "CW_SETTLE_SECONDS", 120, minimum=0),
            lookback_windows=_integer(environ, "CW_LOOKBACK_WINDOWS", 1, minimum=0),
            retention_days=_integer(environ, "CW_RETENTION_DAYS", 90, minimum=1),
            max_backfill_windows=_integer(environ, "CW_MAX_BACKFILL_WINDOWS", 4032, minimum=1),
            reports_bucket=environ.get("CW_REPORTS_BUCKET", "").strip(),
            reports_dir=environ.get("CW_REPORTS_DIR", "").strip() or DEFAULT_REPORTS_DIR,
            discovery=discovery,
            discovery_tags=tags,
            exclude=_patterns(environ),
        )

    def as_environment(self) -> dict[str, str]:
        """The same settings as the environment variables `from_env` reads (CDK and the demo use this)."""
        by_service = {spec.config_variable: [] for spec in SERVICES.values()}
        for resource in self.resources:
            by_service[SERVICES[resource.service].config_variable].append(resource.name)
        if self.discovery is Discovery.NAMES:
            found = {variable: ",".join(names) for variable, names in by_service.items()}
        elif self.discovery is Discovery.TAGS:
            found = {"CW_DISCOVERY_TAGS": ",".join(f"{key}={value}" for key, value in self.discovery_tags)}
        else:
            found = {}
        return {
            "CW_ENV": self.env,
            "CW_METRICS_TABLE": self.metrics_table,
            "CW_ALERTS_TOPIC_ARN": self.alerts_topic_arn,
            "CW_DISCOVERY": self.discovery.value,
            **found,
            **({"CW_EXCLUDE": ",".join(self.exclude)} if self.exclude else {}),
            "CW_SETTLE_SECONDS": str(self.settle_seconds),
            "CW_LOOKBACK_WINDOWS": str(self.lookback_windows),
            "CW_RETENTION_DAYS": str(self.retention_days),
            "CW_MAX_BACKFILL_WINDOWS": str(self.max_backfill_windows),
            "CW_REPORTS_BUCKET": self.reports_bucket,
            "CW_REPORTS_DIR": self.reports_dir,
        }


def _names(environ: Mapping[str, str], variable: str, default: str) -> tuple[str, ...]:
    raw = environ.get(variable)
    if raw is None:
        return (default,)
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    for name in names:
        if len(name) > 255 or any(ch.isspace() for ch in name):
            raise ConfigurationError(
                f"{variable}: {name!r} is not a CloudWatch dimension value; expected comma-separated "
                "names without spaces, at most 255 characters each"
            )
    return names


def _discovery(environ: Mapping[str, str]) -> Discovery:
    raw = environ.get("CW_DISCOVERY", "").strip().lower() or Discovery.NAMES.value
    try:
        return Discovery(raw)
    except ValueError:
        expected = ", ".join(mode.value for mode in Discovery)
        raise ConfigurationError(f"CW_DISCOVERY={raw!r} is not a discovery mode; expected one of {expected}") from None


def _tags(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for part in environ.get("CW_DISCOVERY_TAGS", "").split(","):
        if not part.strip():
            continue
        key, separator, value = (text.strip() for text in part.partition("="))
        if not separator or not key or not value:
            raise ConfigurationError(
                f"CW_DISCOVERY_TAGS: {part.strip()!r} is not key=value; expected e.g. 'team=orders,env=prod'"
            )
        if len(key) > 128 or len(value) > 256:
            raise ConfigurationError(
                f"CW_DISCOVERY_TAGS: {part.strip()!r} is too long for an AWS tag (key at most 128 characters, "
                "value at most 256)"
            )
        pairs.append((key, value))
    return tuple(dict.fromkeys(pairs))


def _patterns(environ: Mapping[str, str]) -> tuple[str, ...]:
    patterns = tuple(dict.fromkeys(part.strip() for part in environ.get("CW_EXCLUDE", "").split(",") if part.strip()))
    for pattern in patterns:
        if any(ch.isspace() for ch in pattern):
            raise ConfigurationError(
                f"CW_EXCLUDE: {pattern!r} contains a space; expected comma-separated glob patterns such as "
                "'*-canary,lambda:legacy-*'"
            )
    return patterns


def _integer(environ: Mapping[str, str], variable: str, default: int, minimum: int) -> int:
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{variable}={raw!r} is not a whole number; expected e.g. {default}") from None
    if value < minimum:
        raise ConfigurationError(f"{variable}={value} is below its minimum {minimum}")
    return value
