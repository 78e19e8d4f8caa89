"""The alert rules: one table read by both the pipeline's evaluation and the CDK CloudWatch alarms.

Plain Python on purpose (no Dagster import) so that infra_cdk can import it.
A rule is in ALARM when its value is strictly greater than its threshold, and INSUFFICIENT_DATA
when the window has no value for it (see `cw_pipeline.catalog.WhenMissing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cw_pipeline.catalog import Service


class State(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class ThresholdRule:
    rule_id: str
    service: Service
    attribute: str  # the aggregate attribute the rule reads (catalog.METRICS or catalog.RATIOS)
    threshold: float
    description: str

    def evaluate(self, value: float | None) -> State:
        if value is None:
            return State.INSUFFICIENT_DATA
        return State.ALARM if value > self.threshold else State.OK


RULES: tuple[ThresholdRule, ...] = (
    ThresholdRule("api_latency_avg", Service.APIGATEWAY, "latency_avg_ms", 1000.0,
                  "API latency average above 1000 ms"),
    ThresholdRule("api_error_rate", Service.APIGATEWAY, "error_rate_pct", 5.0,
                  "API error rate (4XX + 5XX) above 5 percent"),
    ThresholdRule("lambda_errors", Service.LAMBDA, "errors", 10.0,
                  "Lambda errors above 10 per 5-minute window"),
    ThresholdRule("lambda_duration_avg", Service.LAMBDA, "duration_avg_ms", 3000.0,
                  "Lambda duration average above 3000 ms"),
    ThresholdRule("rds_cpu_avg", Service.RDS, "cpu_avg_pct", 80.0,
                  "RDS CPU utilization average above 80 percent"),
    ThresholdRule("rds_connections_max", Service.RDS, "connections_max", 100.0,
                  "RDS database connections maximum above 100"),
)  # fmt: skip


def rules_for(service: Service) -> tuple[ThresholdRule, ...]:
    return tuple(r for r in RULES if r.service == service)


def rule(rule_id: str) -> ThresholdRule:
    for candidate in RULES:
        if candidate.rule_id == rule_id:
            return candidate
    raise KeyError(f"unknown rule {rule_id!r}; known rules: {', '.join(r.rule_id for r in RULES)}")
