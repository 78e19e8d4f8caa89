"""Service level objectives and the burn-rate alert policy: one table read by the pipeline and by the CDK alarms.

Plain Python on purpose (no Dagster, no pandas) so that infra_cdk can import it, like `cw_pipeline.thresholds`.

Two kinds of SLO, both measured on the 5-minute aggregates:

- `EventSLO`: good events over total events, summed over windows. ``bad`` lists the aggregate
  attributes whose sum is the bad events, so good = ``total - sum(bad)`` (the API's availability:
  good = ``request_count - errors_5xx``).
- `WindowSLO`: a 5-minute window is good when its ``attribute`` is at most ``good_at_most``; the SLO
  counts windows that have a value (the API's latency: p95 <= 1000 ms in 99 % of windows).

`POLICIES` is the multi-window, multi-burn-rate table of the Google SRE workbook ("Alerting on SLOs")
for a 30-day budget: a policy row alerts when the burn rate exceeds ``burn_rate`` over both its long
and its short window. The burn rate is the error ratio divided by the error budget (1 - objective).
Adding an SLO or a policy row is adding a row; the rows are checked when they are built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from cw_pipeline.catalog import Service, attributes_for
from cw_pipeline.windows import WINDOW

COMPLIANCE_PERIOD = timedelta(days=30)


class Severity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


def _percent_objective(slo_id: str, objective: float) -> None:
    if not 0 < objective < 100:
        raise ValueError(f"SLO {slo_id!r}: objective {objective!r} must be a percentage strictly between 0 and 100")


def _budget(objective: float) -> float:
    """1 - objective, in decimal: 99.9 gives the float nearest 0.001 (float arithmetic gives 0.0009999999999998899),
    so that an error ratio of exactly the budget has a burn rate of exactly 1, not above it."""
    return float((Decimal(100) - Decimal(repr(objective))) / Decimal(100))


def _whole_windows(what: str, span: timedelta) -> None:
    if span <= timedelta(0) or span % WINDOW:
        raise ValueError(f"{what} is {span}; expected a positive whole number of 5-minute windows")


def _known_attributes(slo_id: str, service: Service, attributes: tuple[str, ...]) -> None:
    known = attributes_for(service)
    unknown = [a for a in attributes if a not in known]
    if unknown:
        raise ValueError(
            f"SLO {slo_id!r} reads {unknown} which {service.value} aggregates do not have; known: {', '.join(known)}"
        )


@dataclass(frozen=True)
class EventSLO:
    """Good events / total events over a period, e.g. requests that did not fail with a 5XX."""

    slo_id: str
    service: Service
    objective: float  # percent of events that must be good, e.g. 99.9
    total: str  # the aggregate attribute counting every event in a window
    bad: tuple[str, ...]  # the attributes whose sum counts the bad events: good = total - sum(bad)
    description: str
    compliance_period: timedelta = COMPLIANCE_PERIOD

    def __post_init__(self) -> None:
        _percent_objective(self.slo_id, self.objective)
        _whole_windows(f"SLO {self.slo_id!r} compliance period", self.compliance_period)
        if not self.bad:
            raise ValueError(f"SLO {self.slo_id!r} names no bad-event attribute; expected at least one")
        _known_attributes(self.slo_id, self.service, self.attributes)

    @property
    def attributes(self) -> tuple[str, ...]:
        return (self.total, *self.bad)

    @property
    def error_budget(self) -> float:
        """The fraction of events allowed to be bad: 1 - objective."""
        return _budget(self.objective)

    @property
    def good_events(self) -> str:
        return f"{self.total} - {' - '.join(self.bad)}"


@dataclass(frozen=True)
class WindowSLO:
    """Good windows / windows with a value, where a window is good when ``attribute <= good_at_most``."""

    slo_id: str
    service: Service
    objective: float  # percent of windows that must be good, e.g. 99
    attribute: str
    good_at_most: float
    description: str
    compliance_period: timedelta = COMPLIANCE_PERIOD

    def __post_init__(self) -> None:
        _percent_objective(self.slo_id, self.objective)
        _whole_windows(f"SLO {self.slo_id!r} compliance period", self.compliance_period)
        _known_attributes(self.slo_id, self.service, self.attributes)

    @property
    def attributes(self) -> tuple[str, ...]:
        return (self.attribute,)

    @property
    def error_budget(self) -> float:
        """The fraction of windows allowed to be bad: 1 - objective."""
        return _budget(self.objective)

    @property
    def good_events(self) -> str:
        return f"windows with {self.attribute} <= {self.good_at_most:g}"


SLO = EventSLO | WindowSLO


@dataclass(frozen=True)
class BurnRatePolicy:
    """One row of the workbook's table: alert at ``severity`` when both windows burn faster than ``burn_rate``."""

    name: str  # unique among the rows; a severity may have several rows
    severity: Severity
    long_window: timedelta
    short_window: timedelta
    burn_rate: float
    budget_spent: float  # fraction of a 30-day budget spent over the long window at exactly ``burn_rate``

    def __post_init__(self) -> None:
        _whole_windows(f"policy {self.name!r} long window", self.long_window)
        _whole_windows(f"policy {self.name!r} short window", self.short_window)
        if self.short_window >= self.long_window:
            raise ValueError(
                f"policy {self.name!r}: short window {self.short_window} must be shorter than long window "
                f"{self.long_window}"
            )
        if self.burn_rate <= 0:
            raise ValueError(f"policy {self.name!r}: burn rate {self.burn_rate!r} must be above 0")
        if not 0 < self.budget_spent <= 1:
            raise ValueError(f"policy {self.name!r}: budget spent {self.budget_spent!r} must be in (0, 1]")

    @property
    def long_windows(self) -> int:
        """The long window as a count of 5-minute windows."""
        return self.long_window // WINDOW

    @property
    def short_windows(self) -> int:
        return self.short_window // WINDOW


SLOS: tuple[SLO, ...] = (
    EventSLO("api_availability", Service.APIGATEWAY, 99.9, total="request_count", bad=("errors_5xx",),
             description="API requests answered without a 5XX error"),
    EventSLO("lambda_success", Service.LAMBDA, 99.9, total="invocations", bad=("errors",),
             description="API Lambda invocations that did not fail"),
    WindowSLO("api_latency", Service.APIGATEWAY, 99.0, attribute="latency_p95_ms", good_at_most=1000.0,
              description="5-minute windows whose API latency p95 is at most 1000 ms"),
)  # fmt: skip

# The budget period the workbook's burn rates and budget shares are computed for.
POLICY_BUDGET_PERIOD = timedelta(days=30)

POLICIES: tuple[BurnRatePolicy, ...] = (
    BurnRatePolicy("page_fast", Severity.PAGE, timedelta(hours=1), timedelta(minutes=5), 14.4, 0.02),
    BurnRatePolicy("page_slow", Severity.PAGE, timedelta(hours=6), timedelta(minutes=30), 6.0, 0.05),
    BurnRatePolicy("ticket", Severity.TICKET, timedelta(days=3), timedelta(hours=6), 1.0, 0.10),
)


def slo(slo_id: str) -> SLO:
    for candidate in SLOS:
        if candidate.slo_id == slo_id:
            return candidate
    raise KeyError(f"unknown SLO {slo_id!r}; known SLOs: {', '.join(s.slo_id for s in SLOS)}")


def slos_for(service: Service) -> tuple[SLO, ...]:
    return tuple(s for s in SLOS if s.service == service)


def attributes_read(service: Service) -> tuple[str, ...]:
    """The aggregate attributes the SLOs of ``service`` read, in table order: what the SLO history keeps."""
    return tuple(dict.fromkeys(attribute for s in slos_for(service) for attribute in s.attributes))


def policies_for(severity: Severity, policies: tuple[BurnRatePolicy, ...] = POLICIES) -> tuple[BurnRatePolicy, ...]:
    return tuple(p for p in policies if p.severity == severity)


def longest_window(policies: tuple[BurnRatePolicy, ...] = POLICIES) -> timedelta:
    """The history a burn-rate evaluation needs before its first window (what the SLO step reads of the SLO history)."""
    if not policies:
        raise ValueError("no burn-rate policy given; expected at least one row")
    return max(p.long_window for p in policies)


def window_label(span: timedelta) -> str:
    """A window length as people write it in the workbook's table: ``5m``, ``30m``, ``1h``, ``6h``, ``3d``."""
    minutes = int(span.total_seconds()) // 60
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
