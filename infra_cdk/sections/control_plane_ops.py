"""Operability of the Dagster control plane: an alarm per service with no running task, and dashboard widgets.

- ``RunningTaskCount`` (Container Insights, per cluster and service) below 1 for ``DOWN_MINUTES`` minutes
  in a row means the webserver or the daemon is down; missing data counts as down (no task reports none).
- Run failures: ``cw_pipeline.telemetry``'s metric, one line per launcher (the Lambda's scheduled runs, the
  ECS tasks' UI runs), next to the services' running tasks and the two alarms' states.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from cw_pipeline import telemetry
from infra_cdk.context import InfraContext
from infra_cdk.sections.monitoring import PERIOD, metric_alarm

CONTAINER_INSIGHTS = "ECS/ContainerInsights"
DOWN_MINUTES = 5
RUN_STATISTIC = "Sum"


def running_tasks(cluster_name: str, service_name: str) -> cw.Metric:
    return cw.Metric(
        namespace=CONTAINER_INSIGHTS,
        metric_name="RunningTaskCount",
        dimensions_map={"ClusterName": cluster_name, "ServiceName": service_name},
        statistic="Minimum",
        period=Duration.minutes(1),
    )


def run_metric(env: str, metric_name: str, launcher: str) -> cw.Metric:
    return cw.Metric(
        namespace=telemetry.NAMESPACE,
        metric_name=metric_name,
        dimensions_map=telemetry.run_dimensions(env, launcher),
        statistic=RUN_STATISTIC,
        period=PERIOD,
        label=f"{metric_name} ({launcher})",
    )


class ControlPlaneOperations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ctx: InfraContext,
        cluster_name: str,
        services: dict[str, str],
        topic: sns.ITopic,
        dashboard: cw.Dashboard,
    ) -> None:
        """``services``: the control plane's role ("webserver", "daemon") -> its ECS service name."""
        super().__init__(scope, construct_id)
        action = cw_actions.SnsAction(topic)
        self.alarms: dict[str, cw.Alarm] = {}
        for role, service_name in services.items():
            alarm = metric_alarm(
                self,
                ctx,
                f"dagster_{role}_down",
                running_tasks(cluster_name, service_name),
                description=f"The Dagster {role} ({service_name}) has had no running task for {DOWN_MINUTES} minutes",
                threshold=1,
                comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cw.TreatMissingData.BREACHING,
                evaluation_periods=DOWN_MINUTES,
                action=action,
                # A new logical id would make CloudFormation create a second alarm of the same name: it fails.
                construct_id=f"Alarm-{role}",
            )
            self.alarms[role] = alarm

        dashboard.add_widgets(
            cw.TextWidget(
                markdown="## Dagster control plane\nRuns by launcher: the aggregator Lambda (EventBridge schedule, "
                "hand-invoked backfills) and ECS run tasks (runs and backfills launched from the Dagster UI).",
                width=24,
                height=2,
            ),
            cw.GraphWidget(
                title="Dagster runs: failed, and blocked by the run lease (retried)",
                left=[run_metric(ctx.env, telemetry.RUN_FAILED, launcher) for launcher in telemetry.LAUNCHERS],
                right=[run_metric(ctx.env, telemetry.RUN_BLOCKED, launcher) for launcher in telemetry.LAUNCHERS],
                width=8,
            ),
            cw.GraphWidget(
                title="Dagster runs: succeeded",
                left=[run_metric(ctx.env, telemetry.RUN_SUCCEEDED, launcher) for launcher in telemetry.LAUNCHERS],
                width=8,
            ),
            cw.GraphWidget(
                title="Dagster services: running tasks",
                left=[running_tasks(cluster_name, service_name) for service_name in services.values()],
                width=8,
            ),
            cw.AlarmStatusWidget(title="Dagster services", alarms=list(self.alarms.values()), width=24, height=2),
        )
