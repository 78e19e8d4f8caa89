"""What the pipeline pulls from CloudWatch, as data.

One row of `METRICS` is one CloudWatch statistic of one metric, and the aggregate attribute it
becomes. The fetcher, the aggregation, the local workload generator and the CDK dashboard are
generic over these rows: adding a metric is adding a row here, nothing else.

Units follow what AWS publishes (see ../shared/FIELD-NOTES.md): RDS read/write latency arrives in
seconds and is stored in milliseconds (``scale=1000``); everything else is stored as published.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cw_pipeline import naming


class Service(StrEnum):
    APIGATEWAY = "apigateway"
    LAMBDA = "lambda"
    RDS = "rds"


class WhenMissing(StrEnum):
    """What a statistic with no datapoint in a window means.

    A request or error count with no datapoints is zero traffic; a latency, CPU or storage value with
    no datapoints is "no data", which is not zero: the attribute is left out of the aggregate.
    """

    ZERO = "zero"
    ABSENT = "absent"


@dataclass(frozen=True)
class ServiceSpec:
    service: Service
    namespace: str
    dimension_name: str
    config_variable: str  # the environment variable that lists this service's monitored resources
    default_resource: str  # the short name (`naming`) of the resource this project creates and watches by default


@dataclass(frozen=True)
class MetricSpec:
    service: Service
    metric_name: str
    statistic: str  # a GetMetricData Stat: Sum, Average, Minimum, Maximum, SampleCount, pNN
    attribute: str  # the aggregate item's attribute
    unit: str  # the unit of the stored attribute
    when_missing: WhenMissing = WhenMissing.ABSENT
    scale: float = 1.0  # multiplies the CloudWatch value into the stored unit

    @property
    def namespace(self) -> str:
        return SERVICES[self.service].namespace

    @property
    def dimension_name(self) -> str:
        return SERVICES[self.service].dimension_name


@dataclass(frozen=True)
class RatioSpec:
    """An attribute derived from others: ``scale * sum(numerators) / denominator``.

    Absent when the denominator is zero or absent: a rate over zero requests is undefined, not 0.
    """

    service: Service
    attribute: str
    numerators: tuple[str, ...]
    denominator: str
    unit: str
    scale: float = 100.0


SERVICES: dict[Service, ServiceSpec] = {
    spec.service: spec
    for spec in (
        ServiceSpec(Service.APIGATEWAY, "AWS/ApiGateway", "ApiName", "CW_API_NAMES", naming.API),
        ServiceSpec(Service.LAMBDA, "AWS/Lambda", "FunctionName", "CW_FUNCTION_NAMES", naming.API_FUNCTION),
        ServiceSpec(Service.RDS, "AWS/RDS", "DBInstanceIdentifier", "CW_DB_INSTANCE_IDS", naming.DATABASE),
    )
}

_A, _L, _R = Service.APIGATEWAY, Service.LAMBDA, Service.RDS
_ZERO = WhenMissing.ZERO

METRICS: tuple[MetricSpec, ...] = (
    # API Gateway (REST), dimension ApiName only: the whole API across stages.
    MetricSpec(_A, "Count", "Sum", "request_count", "Count", _ZERO),
    MetricSpec(_A, "4XXError", "Sum", "errors_4xx", "Count", _ZERO),
    MetricSpec(_A, "5XXError", "Sum", "errors_5xx", "Count", _ZERO),
    MetricSpec(_A, "Latency", "Average", "latency_avg_ms", "Milliseconds"),
    MetricSpec(_A, "Latency", "p95", "latency_p95_ms", "Milliseconds"),
    MetricSpec(_A, "Latency", "p99", "latency_p99_ms", "Milliseconds"),
    MetricSpec(_A, "Latency", "Maximum", "latency_max_ms", "Milliseconds"),
    MetricSpec(_A, "IntegrationLatency", "Average", "integration_latency_avg_ms", "Milliseconds"),
    # Lambda, dimension FunctionName.
    MetricSpec(_L, "Invocations", "Sum", "invocations", "Count", _ZERO),
    MetricSpec(_L, "Errors", "Sum", "errors", "Count", _ZERO),
    MetricSpec(_L, "Throttles", "Sum", "throttles", "Count", _ZERO),
    MetricSpec(_L, "Duration", "Average", "duration_avg_ms", "Milliseconds"),
    MetricSpec(_L, "Duration", "p95", "duration_p95_ms", "Milliseconds"),
    MetricSpec(_L, "Duration", "p99", "duration_p99_ms", "Milliseconds"),
    MetricSpec(_L, "Duration", "Maximum", "duration_max_ms", "Milliseconds"),
    MetricSpec(_L, "ConcurrentExecutions", "Maximum", "concurrent_executions_max", "Count"),
    # RDS, dimension DBInstanceIdentifier.
    MetricSpec(_R, "CPUUtilization", "Average", "cpu_avg_pct", "Percent"),
    MetricSpec(_R, "CPUUtilization", "Maximum", "cpu_max_pct", "Percent"),
    MetricSpec(_R, "DatabaseConnections", "Average", "connections_avg", "Count"),
    MetricSpec(_R, "DatabaseConnections", "Maximum", "connections_max", "Count"),
    MetricSpec(_R, "ReadLatency", "Average", "read_latency_avg_ms", "Milliseconds", scale=1000.0),
    MetricSpec(_R, "WriteLatency", "Average", "write_latency_avg_ms", "Milliseconds", scale=1000.0),
    MetricSpec(_R, "ReadThroughput", "Average", "read_throughput_bps", "Bytes/Second"),
    MetricSpec(_R, "WriteThroughput", "Average", "write_throughput_bps", "Bytes/Second"),
    MetricSpec(_R, "ReadIOPS", "Average", "read_iops", "Count/Second"),
    MetricSpec(_R, "WriteIOPS", "Average", "write_iops", "Count/Second"),
    MetricSpec(_R, "FreeStorageSpace", "Minimum", "free_storage_min_bytes", "Bytes"),
)

RATIOS: tuple[RatioSpec, ...] = (
    RatioSpec(_A, "error_rate_pct", ("errors_4xx", "errors_5xx"), "request_count", "Percent"),
    RatioSpec(_L, "error_rate_pct", ("errors",), "invocations", "Percent"),
)


def metrics_for(service: Service) -> tuple[MetricSpec, ...]:
    return tuple(m for m in METRICS if m.service == service)


def ratios_for(service: Service) -> tuple[RatioSpec, ...]:
    return tuple(r for r in RATIOS if r.service == service)


def attributes_for(service: Service) -> tuple[str, ...]:
    """Every value attribute of a service's aggregate item, in catalog order."""
    return tuple(m.attribute for m in metrics_for(service)) + tuple(r.attribute for r in ratios_for(service))


def metric_for_attribute(service: Service, attribute: str) -> MetricSpec:
    """The catalog row an attribute comes from (the CDK alarms use this to find the CloudWatch metric)."""
    for spec in metrics_for(service):
        if spec.attribute == attribute:
            return spec
    raise KeyError(f"no catalog metric produces {service.value} attribute {attribute!r}")


def ratio_for_attribute(service: Service, attribute: str) -> RatioSpec:
    for spec in ratios_for(service):
        if spec.attribute == attribute:
            return spec
    raise KeyError(f"no catalog ratio produces {service.value} attribute {attribute!r}")


def source_of(service: Service, attribute: str) -> MetricSpec | RatioSpec:
    """The catalog row an aggregate attribute comes from: a pulled statistic or a ratio derived from them."""
    for spec in (*metrics_for(service), *ratios_for(service)):
        if spec.attribute == attribute:
            return spec
    raise KeyError(
        f"no catalog row produces {service.value} attribute {attribute!r}; known: {', '.join(attributes_for(service))}"
    )
