"""Monitoring components and alerting thresholds: the dashboard and the alarms, built from the pipeline's tables.

- Alarms: one per row of ``cw_pipeline.thresholds.RULES`` (the table the pipeline evaluates too). A
  rule's attribute is found in ``cw_pipeline.catalog``: a catalog metric becomes a CloudWatch metric
  with the same statistic, a catalog ratio (the API error rate) becomes metric math guarded against
  zero traffic. ``GreaterThanThreshold`` matches ``ThresholdRule.evaluate`` (ALARM when value > threshold),
  over one 5-minute window. Missing data follows the catalog: a count with no datapoints is zero
  traffic (not breaching), a latency or CPU with none is "no data" (INSUFFICIENT_DATA), as in the pipeline.
- The aggregator's own health: errors, a stalled schedule (no invocation for 15 minutes), and any
  message in its dead-letter queue.
- Dashboard: one graph per catalog metric (every statistic the pipeline pulls), the ratios, the
  aggregator's health and the state of every alarm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cw_pipeline import naming
from cw_pipeline.catalog import (
    METRICS,
    SERVICES,
    MetricSpec,
    RatioSpec,
    Service,
    WhenMissing,
    metric_for_attribute,
    ratios_for,
    source_of,
)
from cw_pipeline.thresholds import RULES, ThresholdRule
from cw_pipeline.windows import WINDOW_SECONDS
from infra_cdk.context import InfraContext

PERIOD = Duration.seconds(WINDOW_SECONDS)
SERVICE_TITLES = {Service.APIGATEWAY: "API Gateway", Service.LAMBDA: "API Lambda", Service.RDS: "RDS PostgreSQL"}
STALLED_PERIODS = 3


def alarm_name(ctx: InfraContext, alarm_id: str) -> str:
    return ctx.name(f"alarm-{alarm_id.replace('_', '-')}")


def notify(alarm: cw.AlarmBase, action: cw.IAlarmAction) -> None:
    """Both transitions go to the alerts topic: ALARM raises the alert, OK clears it."""
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)


def metric_alarm(
    scope: Construct,
    ctx: InfraContext,
    alarm_id: str,
    metric: cw.IMetric,
    *,
    description: str,
    threshold: float,
    comparison: cw.ComparisonOperator,
    missing: cw.TreatMissingData,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
    action: cw.IAlarmAction | None = None,
    construct_id: str | None = None,
) -> cw.Alarm:
    """The alarm ``alarm_name(ctx, alarm_id)`` (construct ``Alarm-{alarm_id}`` unless ``construct_id`` says
    otherwise), in ALARM when ``datapoints_to_alarm`` (default: all) of the last ``evaluation_periods`` periods
    breach; with ``action``, it notifies (``notify``)."""
    alarm = cw.Alarm(
        scope,
        construct_id or f"Alarm-{alarm_id}",
        alarm_name=alarm_name(ctx, alarm_id),
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        comparison_operator=comparison,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=evaluation_periods if datapoints_to_alarm is None else datapoints_to_alarm,
        treat_missing_data=missing,
    )
    if action is not None:
        notify(alarm, action)
    return alarm


def catalog_metric(spec: MetricSpec, resource: str, *, labelled: bool = True) -> cw.Metric:
    """The CloudWatch metric behind one catalog row, for one monitored resource.

    Alarms take it unlabelled: a label would render the alarm as metric math instead of a plain metric.
    """
    return cw.Metric(
        namespace=spec.namespace,
        metric_name=spec.metric_name,
        dimensions_map={spec.dimension_name: resource},
        statistic=spec.statistic,
        period=PERIOD,
        label=f"{spec.metric_name} {spec.statistic}" if labelled else None,
    )


def stored_unit_metric(spec: MetricSpec, resource: str) -> cw.IMetric:
    """A catalog metric in the unit the pipeline stores (RDS latency: seconds in CloudWatch, ms stored)."""
    metric = catalog_metric(spec, resource)
    if spec.scale == 1:
        return metric
    return cw.MathExpression(
        expression=f"{spec.scale:g} * m",
        using_metrics={"m": metric},
        period=PERIOD,
        label=f"{spec.metric_name} {spec.statistic} ({spec.unit})",
    )


def ratio_expression(ratio: RatioSpec, resource: str) -> cw.MathExpression:
    """``scale * sum(numerators) / denominator``, 0 when the denominator is 0 (no traffic, no error rate)."""
    attributes = (*ratio.numerators, ratio.denominator)
    using = {
        attribute: catalog_metric(metric_for_attribute(ratio.service, attribute), resource) for attribute in attributes
    }
    numerator = " + ".join(f"FILL({attribute}, 0)" for attribute in ratio.numerators)
    denominator = ratio.denominator
    return cw.MathExpression(
        expression=f"IF(FILL({denominator}, 0) > 0, {ratio.scale:g} * ({numerator}) / {denominator}, 0)",
        using_metrics=using,
        period=PERIOD,
        label=f"{ratio.attribute} ({ratio.unit})",
    )


def rule_metric(rule: ThresholdRule, resource: str) -> tuple[cw.IMetric, cw.TreatMissingData]:
    """The metric (or metric math) a rule alarms on, and what missing data means for it."""
    spec = source_of(rule.service, rule.attribute)
    if isinstance(spec, RatioSpec):
        return ratio_expression(spec, resource), cw.TreatMissingData.NOT_BREACHING
    missing = (
        cw.TreatMissingData.NOT_BREACHING if spec.when_missing == WhenMissing.ZERO else cw.TreatMissingData.MISSING
    )
    return catalog_metric(spec, resource, labelled=False), missing


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ctx: InfraContext,
        topic: sns.ITopic,
        monitored: dict[Service, str],
        aggregator: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.ctx = ctx
        self.action = cw_actions.SnsAction(topic)
        self.alarms: dict[str, cw.Alarm] = {}

        for rule in RULES:
            metric, missing = rule_metric(rule, monitored[rule.service])
            self._alarm(
                rule.rule_id,
                metric,
                threshold=rule.threshold,
                description=f"{rule.description} ({SERVICES[rule.service].namespace} {monitored[rule.service]})",
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                missing=missing,
            )

        aggregator_errors = aggregator.metric_errors(period=PERIOD, statistic="Sum")
        self._alarm(
            "aggregator_errors",
            aggregator_errors,
            threshold=0,
            description="The metric aggregator failed (any error in a 5-minute window)",
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            missing=cw.TreatMissingData.NOT_BREACHING,
        )
        self._alarm(
            "aggregator_stalled",
            aggregator.metric_invocations(period=PERIOD, statistic="Sum"),
            threshold=1,
            description=f"The metric aggregator has not run for {STALLED_PERIODS * WINDOW_SECONDS // 60} minutes",
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cw.TreatMissingData.BREACHING,
            evaluation_periods=STALLED_PERIODS,
        )
        dlq_depth = dead_letter_queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
        self._alarm(
            "aggregator_dead_letters",
            dlq_depth,
            threshold=0,
            description="A scheduled aggregator run was dropped into its dead-letter queue",
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            missing=cw.TreatMissingData.NOT_BREACHING,
        )

        self.dashboard_name = ctx.name(naming.DASHBOARD)
        self.dashboard = cw.Dashboard(
            self, "Dashboard", dashboard_name=self.dashboard_name, default_interval=Duration.hours(3)
        )
        self.dashboard.add_widgets(
            cw.TextWidget(
                markdown=f"# cw-analytics {ctx.env}\nAPI Gateway, the API Lambda and RDS, per 5-minute window; "
                "thresholds from `cw_pipeline.thresholds`.",
                width=24,
                height=2,
            ),
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24, height=3),
        )
        for service in SERVICES:
            self.dashboard.add_widgets(*self._service_widgets(service, monitored[service]))
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Aggregator: invocations, errors, throttles",
                left=[
                    aggregator.metric_invocations(period=PERIOD, statistic="Sum"),
                    aggregator_errors,
                    aggregator.metric_throttles(period=PERIOD, statistic="Sum"),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Aggregator: duration (ms)",
                left=[aggregator.metric_duration(period=PERIOD, statistic=s) for s in ("Average", "Maximum")],
                width=8,
            ),
            cw.GraphWidget(title="Aggregator: dead-letter queue", left=[dlq_depth], width=8),
        )

    def _alarm(self, alarm_id: str, metric: cw.IMetric, **condition: Any) -> cw.Alarm:
        """A notifying alarm (``metric_alarm``), listed in the dashboard's alarm status widget."""
        self.alarms[alarm_id] = metric_alarm(self, self.ctx, alarm_id, metric, action=self.action, **condition)
        return self.alarms[alarm_id]

    def _service_widgets(self, service: Service, resource: str) -> Sequence[cw.IWidget]:
        """One graph per CloudWatch metric of the catalog (a line per statistic), then its ratios."""
        by_metric: dict[str, list[MetricSpec]] = {}
        for spec in METRICS:
            if spec.service == service:
                by_metric.setdefault(spec.metric_name, []).append(spec)
        title = SERVICE_TITLES[service]
        widgets: list[cw.IWidget] = [
            cw.GraphWidget(
                title=f"{title}: {metric_name} ({specs[0].unit}) - {resource}",
                left=[stored_unit_metric(spec, resource) for spec in specs],
                width=6,
            )
            for metric_name, specs in by_metric.items()
        ]
        widgets += [
            cw.GraphWidget(
                title=f"{title}: {ratio.attribute} - {resource}",
                left=[ratio_expression(ratio, resource)],
                width=6,
            )
            for ratio in ratios_for(service)
        ]
        return widgets


def dashboard_url(stack: Stack, dashboard_name: str) -> str:
    return f"https://console.aws.amazon.com/cloudwatch/home?region={stack.region}#dashboards:name={dashboard_name}"
