"""Data flow steps 3-5 and "Metric Aggregation": the aggregator Lambda, its 5-minute schedule and its DLQ.

EventBridge Scheduler invokes the aggregator (a container image: Dagster + pandas exceed the 250 MB
zip limit) asynchronously every 5 minutes with ``{"scheduled_time": <aws.scheduler.scheduled-time>}``.
Delivery failures are retried by the scheduler, function errors by Lambda's asynchronous retries; both
end in one encrypted dead-letter queue. Reserved concurrency 1: runs never overlap. Its environment is
the pipeline's own contract, ``cw_pipeline.config.Settings.as_environment()``, filled with the names of
the resources created here.

Which resources it watches is the ``discovery`` context value (``names``, the default: this stack's own
API, function and database; ``tags``: what ``discoveryTags``, ``key=value,...``, selects; ``metrics``:
every resource that published the catalog's metrics in the last 3 hours), less ``discoveryExclude``
(glob patterns). The role is granted exactly the discovery calls of that mode, and ``tags`` adds the
interface endpoints those calls need from the private subnets (Resource Groups Tagging API, API Gateway's
management API). Memory and timeout come from `make bench` (docs/lambda.md, "Sizing").
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cw_pipeline import naming
from cw_pipeline.catalog import SERVICES, Service
from cw_pipeline.config import Discovery, Settings
from cw_pipeline.windows import WINDOW_SECONDS
from infra_cdk import packaging
from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.network import PRIVATE, Network
from infra_cdk.sections.notifications import Notifications
from infra_cdk.sections.private_function import private_function
from infra_cdk.sections.storage import Storage

SCHEDULE_RATE = Duration.minutes(WINDOW_SECONDS // 60)  # one run per 5-minute window
# Whoever executes a run over many windows writes its materializations (one per window and asset) to the Dagster
# instance in batches: one statement per batch on dagster-postgres instead of several round trips per event, most of
# a long backfill's time there (docs/lambda.md, "Long backfills"). The handler defaults to the same value
# (cw_pipeline.runtime.instance.EVENT_BATCH_SIZE; that module imports Dagster, so it is not imported here).
DAGSTER_EVENT_BATCH = {"DAGSTER_EVENT_BATCH_SIZE": "1000"}
# From `make bench` (docs/lambda.md, "Sizing"): the runs are CPU-bound and peak at 425 MiB (the 1,070-resource
# estate, 2 windows, with 3 days of SLO history stored: ~12 s) and 400 MiB (a 7-day backfill of the seed stack:
# ~29 s). 1,769 MB is where Lambda gives a whole vCPU, so CPU, not memory, is what this buys. 5 minutes is over
# 10x the longest run the defaults allow (a 14-day backfill of the seed stack, ~2x the 7-day one).
TIMEOUT = Duration.minutes(5)
MEMORY_MB = 1769
SCHEDULER_RETRY_ATTEMPTS = 3
SCHEDULER_MAX_EVENT_AGE = Duration.minutes(10)
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(1)

# What the pipeline calls: CloudWatch reads, the metrics table, the alerts topic (and the key behind both).
CLOUDWATCH_ACTIONS = ["cloudwatch:GetMetricData"]
# What each discovery mode calls (cw_pipeline.discovery), on "*": none of them has resource-level permissions.
DISCOVERY_ACTIONS: dict[Discovery, list[str]] = {
    Discovery.NAMES: [],
    Discovery.METRICS: ["cloudwatch:ListMetrics"],
    Discovery.TAGS: ["tag:GetResources"],
}
# Tags mode maps REST API ids to names with GetRestApis: apigateway:GET on the collection of REST APIs only.
REST_APIS_READ = "apigateway:GET"
# The interface endpoints a mode's calls need from the private subnets (CloudWatch's is the network's own).
DISCOVERY_ENDPOINTS: dict[Discovery, dict[str, str]] = {
    Discovery.NAMES: {},
    Discovery.METRICS: {},
    Discovery.TAGS: {"Tagging": "tagging", "ApiGatewayManagement": "apigateway"},
}
DISCOVERY_CONTEXT = "discovery"
DISCOVERY_TAGS_CONTEXT = "discoveryTags"
DISCOVERY_EXCLUDE_CONTEXT = "discoveryExclude"
TABLE_ACTIONS = [
    "dynamodb:BatchWriteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:DescribeTable",
]
KEY_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
# Deletes only in the pipeline's bookkeeping partitions (the run lease, sent outbox entries), never data.
BOOKKEEPING_PARTITIONS = [naming.LEASE_PARTITION, naming.OUTBOX_PARTITION]


class Pipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ctx: InfraContext,
        encryption: Encryption,
        network: Network,
        storage: Storage,
        notifications: Notifications,
        monitored: dict[Service, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.function_name = ctx.name(naming.AGGREGATOR_FUNCTION)
        self._storage, self._topic, self._encryption = storage, notifications.topic, encryption

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=ctx.name("aggregator-dlq"),
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letter_queue,
            "SQS3",
            "This queue is itself the dead-letter queue of the aggregator's schedule and asynchronous "
            "invocations; an alarm fires as soon as a message lands in it.",
        )

        # The pipeline's own parser reads the discovery context, so a bad value fails the synth with its message.
        self.settings = Settings.from_env(
            {
                "CW_ENV": ctx.env,
                "CW_METRICS_TABLE": storage.table.table_name,
                "CW_ALERTS_TOPIC_ARN": notifications.topic.topic_arn,
                "CW_DISCOVERY": self._context(DISCOVERY_CONTEXT) or Discovery.NAMES.value,
                "CW_DISCOVERY_TAGS": self._context(DISCOVERY_TAGS_CONTEXT),
                "CW_EXCLUDE": self._context(DISCOVERY_EXCLUDE_CONTEXT),
                "CW_REPORTS_BUCKET": storage.reports_bucket.bucket_name,
                **self._names(monitored),
            }
        )
        self.environment = {
            **self.settings.as_environment(),
            "DAGSTER_HOME": "/tmp/dagster_home",
            "DAGSTER_DISABLE_TELEMETRY": "true",
            "DAGSTER_TELEMETRY_DISABLED": "true",
            **DAGSTER_EVENT_BATCH,
            "POWERTOOLS_SERVICE_NAME": self.function_name,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }

        self.security_group = network.lambda_security_group(
            self, "FunctionSecurityGroup", ctx.name("aggregator-sg"), "Aggregator Lambda: to the VPC endpoints"
        )
        network.allow_dynamodb(self.security_group)
        self.role = network.lambda_role(
            self,
            "FunctionRole",
            ctx.name("aggregator-role"),
            "Aggregator Lambda: CloudWatch reads, the metrics table, the alerts topic, the reports, the key",
        )
        self.grant_run(self.role)
        self.discovery_endpoints = {
            name: network.vpc.add_interface_endpoint(
                name,
                service=ec2.InterfaceVpcEndpointAwsService(service),
                subnets=PRIVATE,
                private_dns_enabled=True,
                security_groups=[network.endpoint_security_group],
                open=False,
            )
            for name, service in DISCOVERY_ENDPOINTS[self.settings.discovery].items()
        }
        acknowledge(
            self.role,
            "IAM5[Resource::*]",
            "cloudwatch:GetMetricData and the discovery mode's own call (cloudwatch:ListMetrics or "
            "tag:GetResources) support no resource-level permissions; they are the only actions granted on "
            "'*', and they only read metrics or tags.",
        )

        self.function = private_function(
            self,
            encryption=encryption,
            network=network,
            function_name=self.function_name,
            description="cw-analytics metric aggregator: Dagster job pulling CloudWatch into DynamoDB every 5 min",
            code=packaging.aggregator_code(),
            role=self.role,
            security_group=self.security_group,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment=self.environment,
            reserved_concurrent_executions=1,
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=ASYNC_MAX_EVENT_AGE,
            dead_letter_queue=self.dead_letter_queue,
        )

        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            role_name=ctx.name("aggregator-scheduler-role"),
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
            description="EventBridge Scheduler: invoke the aggregator, dead-letter to its queue",
        )
        # The dead-letter queue is encrypted with the project key.
        encryption.key.grant(self.scheduler_role, "kms:Decrypt", "kms:GenerateDataKey")
        acknowledge(
            self.scheduler_role,
            "IAM5[Resource::<PipelineFunction478EC3AB.Arn>:*]",
            "The scheduler target grants lambda:InvokeFunction on the aggregator and its versions and aliases "
            "(ARN:*), all of which are this one function.",
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule_name=ctx.name("aggregator-schedule"),
            description="Every 5 minutes: aggregate the last windows of CloudWatch metrics",
            schedule=scheduler.ScheduleExpression.rate(SCHEDULE_RATE),
            target=targets.LambdaInvoke(
                self.function,
                input=scheduler.ScheduleTargetInput.from_object(
                    {"scheduled_time": scheduler.ContextAttribute.scheduled_time}
                ),
                retry_attempts=SCHEDULER_RETRY_ATTEMPTS,
                max_event_age=SCHEDULER_MAX_EVENT_AGE,
                dead_letter_queue=self.dead_letter_queue,
                role=self.scheduler_role,
            ),
        )

    def grant_run(self, role: iam.IRole) -> None:
        """Everything one run of the pipeline's job calls, wherever it runs (this Lambda, an ECS run task):
        CloudWatch reads and the discovery of the chosen mode, the metrics table (and deleting its own
        bookkeeping: the run lease and sent outbox entries, never data), the alerts topic, the daily SLO
        reports and the key."""
        discovery = self.settings.discovery
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadMetricsAndDiscover", actions=CLOUDWATCH_ACTIONS + DISCOVERY_ACTIONS[discovery], resources=["*"]
            )
        )
        if discovery is Discovery.TAGS:
            rest_apis = Stack.of(self).format_arn(
                service="apigateway", account="", resource="/restapis", arn_format=ArnFormat.NO_RESOURCE_NAME
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(sid="MapRestApiIdsToNames", actions=[REST_APIS_READ], resources=[rest_apis])
            )
        self._storage.table.grant(role, *TABLE_ACTIONS)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DeleteOwnBookkeeping",
                actions=["dynamodb:DeleteItem"],
                resources=[self._storage.table.table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": BOOKKEEPING_PARTITIONS}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="PublishAlerts", actions=["sns:Publish"], resources=[self._topic.topic_arn])
        )
        self._storage.grant_report_writes(role)  # the daily SLO reports
        self._encryption.key.grant(role, *KEY_ACTIONS)

    def _context(self, key: str) -> str:
        raw = self.node.try_get_context(key)
        return ",".join(map(str, raw)) if isinstance(raw, list | tuple) else str(raw or "").strip()

    def _names(self, monitored: dict[Service, str]) -> dict[str, str]:
        """The name lists of ``names`` mode (this stack's own resources); other modes find their own."""
        if (self._context(DISCOVERY_CONTEXT).lower() or Discovery.NAMES.value) != Discovery.NAMES.value:
            return {}
        return {SERVICES[service].config_variable: name for service, name in monitored.items()}
