"""The stack: one construct per section of the seed architecture, wired together, and its outputs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Fn, Stack, Tags
from constructs import Construct

from cw_pipeline.catalog import Service
from infra_cdk.context import InfraContext
from infra_cdk.sections.api import Api
from infra_cdk.sections.control_plane import ControlPlane
from infra_cdk.sections.control_plane_ops import ControlPlaneOperations
from infra_cdk.sections.database import Database
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.monitoring import Monitoring, dashboard_url
from infra_cdk.sections.network import Network
from infra_cdk.sections.notifications import Notifications
from infra_cdk.sections.pipeline import Pipeline
from infra_cdk.sections.slo_alarms import SloAlarms
from infra_cdk.sections.storage import Storage


class AnalyticsStack(Stack):
    """``cw-analytics-{env}-stack``: everything in architecture-seed.md for one environment."""

    def __init__(self, scope: Construct, construct_id: str, *, ctx: InfraContext) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=ctx.name("stack"),
            description=f"cw-analytics {ctx.env}: API, RDS, metric aggregation, alarms and dashboard",
            env=Environment(account=ctx.account, region=ctx.region),
            termination_protection=not ctx.is_dev,
        )
        self.ctx = ctx
        # CloudFormation's schema of AWS::RDS::DBProxyTargetGroup has no Tags, although CDK would add them.
        untaggable = ["AWS::RDS::DBProxyTargetGroup"]
        Tags.of(self).add("project", "cw-analytics", exclude_resource_types=untaggable)
        Tags.of(self).add("environment", ctx.env, exclude_resource_types=untaggable)

        # Security architecture: the key every data store and log group is encrypted with.
        self.encryption = Encryption(self, "Encryption", ctx=ctx)
        # Network architecture.
        self.network = Network(self, "Network", ctx=ctx, encryption=self.encryption)
        # Notifications (data flow step 7).
        self.notifications = Notifications(self, "Notifications", ctx=ctx, encryption=self.encryption)
        # Aggregated metrics store (data flow step 5).
        self.storage = Storage(self, "Storage", ctx=ctx, encryption=self.encryption)
        # The monitored workload: RDS (step 2) and the API (steps 1-2).
        self.database = Database(self, "Database", ctx=ctx, encryption=self.encryption, network=self.network)
        self.api = Api(self, "Api", ctx=ctx, encryption=self.encryption, network=self.network, database=self.database)
        # What the pipeline and the alarms watch: the names of the resources created above.
        self.monitored = {
            Service.APIGATEWAY: self.api.api_name,
            Service.LAMBDA: self.api.function_name,
            Service.RDS: self.database.instance_identifier,
        }
        # Metric aggregation (steps 3-5).
        self.pipeline = Pipeline(
            self,
            "Pipeline",
            ctx=ctx,
            encryption=self.encryption,
            network=self.network,
            storage=self.storage,
            notifications=self.notifications,
            monitored=self.monitored,
        )
        # Monitoring components and alerting thresholds (step 6).
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            ctx=ctx,
            topic=self.notifications.topic,
            monitored=self.monitored,
            aggregator=self.pipeline.function,
            dead_letter_queue=self.pipeline.dead_letter_queue,
        )
        # SLO burn-rate alerts from the SLO table the pipeline evaluates too, on the same topic and dashboard.
        self.slo_alarms = SloAlarms(
            self,
            "SloAlarms",
            ctx=ctx,
            topic=self.notifications.topic,
            monitored=self.monitored,
            dashboard=self.monitoring.dashboard,
        )
        # The Dagster control plane: the instance every run is recorded in, the UI, UI-launched runs on ECS.
        self.control_plane = ControlPlane(
            self,
            "ControlPlane",
            ctx=ctx,
            encryption=self.encryption,
            network=self.network,
            storage=self.storage,
            pipeline=self.pipeline,
        )
        self.control_plane_operations = ControlPlaneOperations(
            self,
            "ControlPlaneOperations",
            ctx=ctx,
            cluster_name=self.control_plane.cluster_name,
            services=self.control_plane.service_names,
            topic=self.notifications.topic,
            dashboard=self.monitoring.dashboard,
        )

        outputs = {
            "ApiUrl": (self.api.rest_api.url, "Base URL of the interactions API (HTTPS, IAM-signed requests)"),
            "ApiInvokeArn": (self.api.invoke_arn, "Resource for execute-api:Invoke grants to API callers"),
            "MetricsTableName": (self.storage.table.table_name, "DynamoDB table of aggregates and evaluations"),
            "ReportsBucketName": (self.storage.reports_bucket.bucket_name, "S3 bucket of the daily SLO reports"),
            "AlertsTopicArn": (self.notifications.topic.topic_arn, "SNS topic of alarm and pipeline alerts"),
            "DashboardName": (self.monitoring.dashboard_name, "CloudWatch dashboard"),
            "DashboardUrl": (dashboard_url(self, self.monitoring.dashboard_name), "CloudWatch dashboard link"),
            "AggregatorFunctionName": (self.pipeline.function.function_name, "Metric aggregator Lambda"),
            "DatabaseProxyEndpoint": (self.database.proxy.endpoint, "RDS Proxy endpoint the API connects to"),
            "DagsterUiUrl": (self.control_plane.access.url, "Dagster UI (internal: reach it as docs/infra.md says)"),
            "DagsterUiLoadBalancer": (
                self.control_plane.access.load_balancer.load_balancer_dns_name,
                "DNS name of the Dagster UI load balancer",
            ),
            "DagsterClusterName": (self.control_plane.cluster_name, "ECS cluster of the Dagster webserver and daemon"),
            "DagsterWebserverService": (
                self.control_plane.service_names["webserver"],
                "ECS service of the Dagster webserver (ECS Exec enabled)",
            ),
            "DagsterDatabaseSecretArn": (
                self.control_plane.database.secret.secret_arn,
                "Secrets Manager secret of the Dagster instance database",
            ),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)

    @property
    def availability_zones(self) -> list[str]:
        """The context's zones, else the region's first two resolved at deploy time (no lookup at synth)."""
        if self.ctx.availability_zones:
            return list(self.ctx.availability_zones)
        return [Fn.select(index, Fn.get_azs()) for index in range(2)]
