"""SLO burn-rate alarms and the error-budget widgets, from ``cw_pipeline.slos`` (the table the pipeline reads too).

For each SLO, its monitored resource and each row of ``POLICIES``, one metric alarm per window (long and
short), and per severity one composite alarm: ``(ALARM(long) AND ALARM(short)) OR ...`` over the
severity's rows (the workbook's two page rows make one page alarm). Only the composite alarms notify the
alerts topic, on ALARM and on OK: the per-window alarms have no action, since a short window alone is
exactly the blip the pair exists to ignore.

How a window of the table becomes CloudWatch:

- `EventSLO` (availability, Lambda success): metric math with every metric's period equal to the window
  (5 min, 30 min, 1 h, 6 h, 3 d) and one evaluation period, so each datapoint sums the whole window:
  ``IF(total > 0, (FILL(bad, 0)) / total, 0) / (1 - objective / 100)`` is the burn rate, alarmed when
  greater than the row's burn rate, as `cw_pipeline.burn_rate` (strictly above). The alarm's default
  sliding evaluation window ends "now", as the pipeline's windows end with the evaluated one. No
  datapoint (no traffic in the window) is INSUFFICIENT_DATA, the pipeline's state for a long window
  without events; zero requests give 0, not a division by zero.
- `WindowSLO` (latency): a window is bad when ``IF(latency_p95_ms > 1000, 1, 0)`` is 1 at a 5-minute
  period (the p95 of each 5-minute window, as the pipeline stores it; percentiles cannot be
  re-aggregated over longer periods). A window of N five-minute periods burns faster than ``burn_rate``
  when its bad windows exceed ``burn_rate * (1 - objective) * N``, so the alarm is "M out of N" with
  ``N = window / 5 min`` and ``M = floor(burn_rate * (1 - objective) * N) + 1`` datapoints above 0.
  Missing p95 (no traffic) is not breaching: CloudWatch divides by all N windows where the pipeline
  divides by the windows with data; they agree whenever every window has traffic.
  CloudWatch caps alarms with a period under one hour at one day of evaluation (288 five-minute
  periods), so a window-based row whose long window exceeds a day (the ticket's 3 d) cannot be encoded:
  that row is left to the pipeline's burn-rate evaluation, and `encodable` says which rows are.
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from math import floor

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from cw_pipeline.catalog import Service, metric_for_attribute
from cw_pipeline.slos import POLICIES, SLO, SLOS, BurnRatePolicy, EventSLO, Severity, WindowSLO, window_label
from cw_pipeline.windows import WINDOW
from infra_cdk.context import InfraContext
from infra_cdk.sections.monitoring import alarm_name, catalog_metric, metric_alarm, notify

# PutMetricAlarm: with a period under one hour, Period x EvaluationPeriods may not exceed one day.
SUB_HOUR_EVALUATION_LIMIT = timedelta(days=1)


def _period(span: timedelta) -> Duration:
    return Duration.seconds(int(span.total_seconds()))


def _relative_start(span: timedelta) -> str:
    """A dashboard widget's ``start`` that many minutes or days before now (ISO 8601, e.g. ``-P30D``)."""
    if span % timedelta(days=1):
        return f"-PT{int(span.total_seconds()) // 60}M"
    return f"-P{span.days}D"


def burn_rate_expression(slo: EventSLO, resource: str, window: timedelta) -> cw.MathExpression:
    """The burn rate of an event SLO over ``window``, one datapoint per window: error ratio / (1 - objective)."""
    using = {a: catalog_metric(metric_for_attribute(slo.service, a), resource, labelled=False) for a in slo.attributes}
    bad = " + ".join(f"FILL({attribute}, 0)" for attribute in slo.bad)
    return cw.MathExpression(
        expression=f"IF({slo.total} > 0, ({bad}) / {slo.total}, 0) / (1 - {slo.objective:g} / 100)",
        using_metrics=using,
        period=_period(window),
        label=f"{slo.slo_id} burn rate over {window_label(window)}",
    )


def bad_window_expression(slo: WindowSLO, resource: str) -> cw.MathExpression:
    """1 for a bad 5-minute window of a window-based SLO, 0 for a good one, nothing without data."""
    metric = catalog_metric(metric_for_attribute(slo.service, slo.attribute), resource, labelled=False)
    return cw.MathExpression(
        expression=f"IF({slo.attribute} > {slo.good_at_most:g}, 1, 0)",
        using_metrics={slo.attribute: metric},
        period=_period(WINDOW),
        label=f"{slo.slo_id}: bad 5-minute windows ({slo.attribute} > {slo.good_at_most:g})",
    )


def budget_left_expression(slo: EventSLO, resource: str) -> cw.MathExpression:
    """Percent of the error budget left over the compliance period: 100 * (1 - burn rate over the period)."""
    burn = burn_rate_expression(slo, resource, slo.compliance_period)
    return cw.MathExpression(
        expression=f"100 * (1 - {burn.expression})",
        using_metrics=burn.using_metrics,
        period=burn.period,
        label=f"{slo.slo_id} budget left (%)",
    )


def bad_windows_to_alarm(slo: WindowSLO, policy: BurnRatePolicy, window: timedelta) -> tuple[int, int]:
    """(M, N): N five-minute periods in ``window``, of which more than ``burn_rate * (1 - objective) * N``,
    i.e. at least M, must be bad. Exact arithmetic: a product that is a whole number is not exceeded by itself."""
    periods = window // WINDOW
    allowed = Fraction(str(policy.burn_rate)) * (100 - Fraction(str(slo.objective))) / 100 * periods
    return floor(allowed) + 1, periods


def encodable(slo: SLO, policy: BurnRatePolicy) -> bool:
    """Whether CloudWatch can evaluate both windows of ``policy`` for ``slo`` (see the module docstring)."""
    if isinstance(slo, EventSLO):
        return True
    return policy.long_window <= SUB_HOUR_EVALUATION_LIMIT


class SloAlarms(Construct):
    """The burn-rate alarms of every SLO and an error-budget row on the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ctx: InfraContext,
        topic: sns.ITopic,
        monitored: dict[Service, str],
        dashboard: cw.Dashboard,
    ) -> None:
        super().__init__(scope, construct_id)
        self.ctx = ctx
        self.window_alarms: dict[str, cw.Alarm] = {}
        self.composite_alarms: dict[str, cw.CompositeAlarm] = {}
        action = cw_actions.SnsAction(topic)

        for slo in SLOS:
            resource = monitored[slo.service]
            for severity in Severity:
                pairs = [
                    cw.AlarmRule.all_of(
                        cw.AlarmRule.from_alarm(self._window_alarm(slo, resource, policy, "long"), cw.AlarmState.ALARM),
                        cw.AlarmRule.from_alarm(
                            self._window_alarm(slo, resource, policy, "short"), cw.AlarmState.ALARM
                        ),
                    )
                    for policy in POLICIES
                    if policy.severity == severity and encodable(slo, policy)
                ]
                if not pairs:
                    continue
                alarm_id = f"slo_{slo.slo_id}_{severity.value}"
                composite = cw.CompositeAlarm(
                    self,
                    f"Composite-{alarm_id}",
                    composite_alarm_name=alarm_name(ctx, alarm_id),
                    alarm_description=(
                        f"{severity.value}: SLO {slo.slo_id} ({slo.objective:g} % of {slo.description.lower()}, "
                        f"{slo.compliance_period.days} days) burning its error budget on {resource}"
                    ),
                    alarm_rule=cw.AlarmRule.any_of(*pairs),
                )
                notify(composite, action)
                self.composite_alarms[alarm_id] = composite

        dashboard.add_widgets(*self._widgets(monitored))

    def _window_alarm(self, slo: SLO, resource: str, policy: BurnRatePolicy, which: str) -> cw.Alarm:
        window = policy.long_window if which == "long" else policy.short_window
        alarm_id = f"slo_{slo.slo_id}_{policy.name}_{window_label(window)}"
        description = (
            f"SLO {slo.slo_id} ({slo.objective:g} %): burn rate above {policy.burn_rate:g} over the {which} window "
            f"({window_label(window)}) of policy {policy.name}, on {resource}; notifies through its composite alarm"
        )
        if isinstance(slo, EventSLO):
            # One period as long as the window: its one datapoint is the window's burn rate.
            metric: cw.IMetric = burn_rate_expression(slo, resource, window)
            threshold: float = policy.burn_rate
            to_alarm, periods = 1, 1
            missing = cw.TreatMissingData.MISSING
        else:
            # M bad 5-minute windows out of N (the module docstring).
            metric = bad_window_expression(slo, resource)
            threshold = 0
            to_alarm, periods = bad_windows_to_alarm(slo, policy, window)
            missing = cw.TreatMissingData.NOT_BREACHING
        # No action: only the composite alarm of the pair notifies.
        alarm = metric_alarm(
            self,
            self.ctx,
            alarm_id,
            metric,
            description=description,
            threshold=threshold,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            missing=missing,
            evaluation_periods=periods,
            datapoints_to_alarm=to_alarm,
        )
        self.window_alarms[alarm_id] = alarm
        return alarm

    def _widgets(self, monitored: dict[Service, str]) -> list[cw.IWidget]:
        """Per SLO: the budget left over its compliance period (event SLOs) or today's bad windows (window
        SLOs), then the state of the composite alarms. One widget per SLO keeps metric ids from colliding."""
        widgets: list[cw.IWidget] = [
            cw.TextWidget(
                markdown="## SLOs: error budget and burn-rate alerts\nFrom `cw_pipeline.slos`; pages and tickets "
                "follow the SRE workbook's multi-window burn rates (1 h/5 min at 14.4, 6 h/30 min at 6, 3 d/6 h at 1).",
                width=24,
                height=2,
            )
        ]
        for slo in SLOS:
            resource = monitored[slo.service]
            if isinstance(slo, EventSLO):
                widgets.append(
                    cw.SingleValueWidget(
                        title=f"{slo.slo_id}: error budget left, last {window_label(slo.compliance_period)} (%)",
                        metrics=[budget_left_expression(slo, resource)],
                        start=_relative_start(slo.compliance_period),
                        set_period_to_time_range=True,
                        width=6,
                        height=4,
                    )
                )
                continue
            bad = bad_window_expression(slo, resource)
            daily_budget = float((100 - Fraction(str(slo.objective))) / 100 * (timedelta(days=1) // WINDOW))
            cumulative = cw.MathExpression(
                expression=f"RUNNING_SUM({bad.expression})",
                using_metrics=bad.using_metrics,
                period=_period(WINDOW),
                label=f"{slo.attribute} > {slo.good_at_most:g}, cumulative",
            )
            widgets.append(
                cw.GraphWidget(
                    title=f"{slo.slo_id}: bad 5-minute windows over the last 24 h",
                    left=[cumulative],
                    left_annotations=[cw.HorizontalAnnotation(value=daily_budget, label="a day's share of the budget")],
                    start="-PT24H",
                    width=6,
                    height=4,
                )
            )
        widgets.append(
            cw.AlarmStatusWidget(
                title="SLO burn-rate alerts", alarms=list(self.composite_alarms.values()), width=6, height=4
            )
        )
        return widgets
