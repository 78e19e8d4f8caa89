"""The Dagster control plane: the UI for backfills and lineage, and every production run recorded in one instance.

- The instance database (control_plane_db.py) is shared by everyone who runs the job: the aggregator
  Lambda records each scheduled or hand-invoked run there (``CW_DAGSTER_PG_SECRET_ARN``), and the
  webserver and daemon read it.
- The webserver and the daemon are Fargate services in the private subnets, built from
  ``Dockerfile.control-plane`` (the aggregator's lock plus dagster-webserver). Their instance is
  ``cw_pipeline/runtime/dagster.yaml``: Postgres from the secret's fields, which ECS injects as
  ``DAGSTER_PG_*``, and ``EcsRunLauncher`` starting each run launched from the UI (a job, a backfill) as a
  task of the run task definition defined here, same image, in the daemon's subnets and security group.
- The Dagster schedule in the code location stays STOPPED (its default): EventBridge Scheduler drives the
  5-minute cadence through the Lambda, so no window is run by two schedulers.
- The UI is reached through control_plane_access.py; alarms and dashboard widgets: control_plane_ops.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra_cdk import packaging
from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.control_plane_access import HEALTH_CHECK_PATH, WEBSERVER_PORT, DagsterUiAccess
from infra_cdk.sections.control_plane_db import DagsterDatabase
from infra_cdk.sections.control_plane_iam import ControlPlaneRoles
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.network import PRIVATE, Network
from infra_cdk.sections.pipeline import DAGSTER_EVENT_BATCH, Pipeline
from infra_cdk.sections.storage import Storage

# cw_pipeline.runtime.instance.PG_SECRET_VARIABLE (not imported here: that module imports Dagster).
PG_SECRET_ARN_VARIABLE = "CW_DAGSTER_PG_SECRET_ARN"
# What cw_pipeline/runtime/dagster.yaml reads: the secret's fields, and the run task definition.
PG_SECRET_FIELDS = {
    "DAGSTER_PG_HOST": "host",
    "DAGSTER_PG_PORT": "port",
    "DAGSTER_PG_DB": "dbname",
    "DAGSTER_PG_USERNAME": "username",
    "DAGSTER_PG_PASSWORD": "password",
}
RUN_TASK_DEFINITION_VARIABLE = "CW_DAGSTER_RUN_TASK_DEFINITION"
# The daemon creates the runs of the backfills launched from the UI, and Dagster logs a run's planned events when
# it creates it: with this, one per asset for a whole range instead of one per window and asset (8,064 for 7 days
# of the four assets, each a few round trips to the database, inside the daemon's backfill loop). The trade-off
# (docs/lambda.md, "Long backfills"): a window of a failed daemon-created run is shown missing, not failed, in the
# asset's partitions; the run is failed and the backfill's page counts the window failed (the daemon derives that
# from the run's range, not from planned events). Not on the webserver, whose runs (one partition materialized,
# a re-execution) keep their per-window plan and so their failed windows.
DAEMON_PLANNED_EVENTS = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1"}
RUN_CONTAINER = "run"  # dagster.yaml's run_launcher.container_name
DAGSTER_HOME = "/opt/dagster/dagster_home"  # where Dockerfile.control-plane puts dagster.yaml
WORKSPACE = "/opt/dagster/app/workspace.yaml"

WEBSERVER_COMMAND = ["dagster-webserver", "--host", "0.0.0.0", "--port", str(WEBSERVER_PORT), "--workspace", WORKSPACE]
DAEMON_COMMAND = ["dagster-daemon", "run", "--workspace", WORKSPACE]
# EcsRunLauncher always overrides the run container's command with `dagster api execute_run ...`; started any
# other way, the task stops at once instead of serving a second webserver from the image's default command.
RUN_IDLE_COMMAND = ["python", "-c", "raise SystemExit('started by EcsRunLauncher only')"]
WEBSERVER_HEALTH = [
    "CMD",
    "python",
    "-c",
    f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{WEBSERVER_PORT}{HEALTH_CHECK_PATH}', timeout=5)",
]
DAEMON_HEALTH = ["CMD", "dagster-daemon", "liveness-check"]  # reads the daemons' heartbeats from the database


@dataclass(frozen=True)
class DagsterTask:
    """One kind of Dagster task: Fargate size (cpu units, MiB), command, health check, port."""

    size: tuple[int, int]
    command: list[str]
    health_check: ecs.HealthCheck | None = None
    port: int | None = None


def _health_check(command: list[str], *, every: Duration, timeout: Duration, start_period: Duration) -> ecs.HealthCheck:
    return ecs.HealthCheck(command=command, interval=every, timeout=timeout, retries=3, start_period=start_period)


# A run task holds one run of up to CW_MAX_BACKFILL_WINDOWS windows in memory; a run may ask for more with the
# ecs/cpu and ecs/memory tags.
TASKS = {
    "run": DagsterTask(size=(1024, 4096), command=RUN_IDLE_COMMAND),
    "webserver": DagsterTask(
        size=(1024, 2048),
        command=WEBSERVER_COMMAND,
        health_check=_health_check(
            WEBSERVER_HEALTH, every=Duration.seconds(30), timeout=Duration.seconds(10), start_period=Duration.minutes(3)
        ),
        port=WEBSERVER_PORT,
    ),
    "daemon": DagsterTask(
        size=(1024, 2048),
        command=DAEMON_COMMAND,
        health_check=_health_check(
            DAEMON_HEALTH, every=Duration.seconds(60), timeout=Duration.seconds(30), start_period=Duration.minutes(5)
        ),
    ),
}


class ControlPlane(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ctx: InfraContext,
        encryption: Encryption,
        network: Network,
        storage: Storage,
        pipeline: Pipeline,
    ) -> None:
        super().__init__(scope, construct_id)
        self.ctx = ctx
        stack = Stack.of(self)
        self.cluster_name = ctx.name("dagster")
        self.run_family = ctx.name("dagster-run")

        # The instance database, and the aggregator's way in: its runs are recorded there.
        self.database = DagsterDatabase(self, "Database", ctx=ctx, encryption=encryption, network=network)
        secret = self.database.secret
        pipeline.function.add_environment(PG_SECRET_ARN_VARIABLE, secret.secret_arn)
        pipeline.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadDagsterInstanceSecret",
                actions=["secretsmanager:GetSecretValue"],
                resources=[secret.secret_arn],
            )
        )
        self.database.allow_from(pipeline.security_group, "Aggregator Lambda: records its runs in the instance")

        exec_logs = encryption.log_group(self, "ExecLogs", f"/ecs/{self.cluster_name}/exec")
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=self.cluster_name,
            vpc=network.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            execute_command_configuration=ecs.ExecuteCommandConfiguration(
                kms_key=encryption.key,
                logging=ecs.ExecuteCommandLogging.OVERRIDE,
                log_configuration=ecs.ExecuteCommandLogConfiguration(
                    cloud_watch_log_group=exec_logs, cloud_watch_encryption_enabled=True
                ),
            ),
        )
        self.image = ecs.ContainerImage.from_docker_image_asset(packaging.control_plane_image(self, "Image"))
        self.log_groups = {
            name: encryption.log_group(self, f"{name.title()}Logs", f"/ecs/{self.cluster_name}/{name}")
            for name in ("webserver", "daemon", "run")
        }

        # Security groups: nothing but the load balancer reaches the webserver; the daemon's group is also
        # every run task's (EcsRunLauncher copies the daemon's network configuration).
        self.webserver_security_group = network.lambda_security_group(
            self, "WebserverSecurityGroup", ctx.name("dagster-webserver-sg"), "Dagster webserver: from its ALB only"
        )
        self.daemon_security_group = network.lambda_security_group(
            self, "DaemonSecurityGroup", ctx.name("dagster-daemon-sg"), "Dagster daemon and its run tasks: no ingress"
        )
        for group, who in ((self.webserver_security_group, "webserver"), (self.daemon_security_group, "daemon, runs")):
            network.allow_gateway_endpoints(group)
            self.database.allow_from(group, f"Dagster {who}: the instance database")

        self.roles = ControlPlaneRoles(
            self,
            "Roles",
            ctx=ctx,
            cluster=self.cluster,
            cluster_name=self.cluster_name,
            run_family=self.run_family,
            run_logs=self.log_groups["run"],
            encryption=encryption,
            storage=storage,
            pipeline=pipeline,
        )

        secrets = {name: ecs.Secret.from_secrets_manager(secret, field) for name, field in PG_SECRET_FIELDS.items()}
        environment = {
            **pipeline.settings.as_environment(),
            "AWS_REGION": stack.region,
            "DAGSTER_HOME": DAGSTER_HOME,
            "DAGSTER_DISABLE_TELEMETRY": "true",
        }
        self.run_task_definition = self._task_definition(
            "run",
            self.roles.run,
            # Its own name, not its ARN (which would reference itself); only launching processes resolve it.
            # A run task writes the materializations of the runs launched from the UI, as the Lambda does its own.
            environment={**environment, **DAGSTER_EVENT_BATCH, RUN_TASK_DEFINITION_VARIABLE: self.run_family},
            secrets=secrets,
        )
        launcher_environment = {
            **environment,
            # The revision's ARN: a new run task definition also rolls the webserver and the daemon.
            RUN_TASK_DEFINITION_VARIABLE: self.run_task_definition.task_definition_arn,
        }
        self.webserver_task_definition = self._task_definition(
            "webserver", self.roles.webserver, environment=launcher_environment, secrets=secrets
        )
        self.daemon_task_definition = self._task_definition(
            "daemon", self.roles.daemon, environment={**launcher_environment, **DAEMON_PLANNED_EVENTS}, secrets=secrets
        )

        self.access = DagsterUiAccess(self, "Access", ctx=ctx, network=network)
        self.webserver_service = self._service(
            "webserver", self.webserver_task_definition, self.webserver_security_group, exec_enabled=True
        )
        self.webserver_service.attach_to_application_target_group(self.access.target_group)
        # Exactly one daemon at a time: a deployment stops the old one before starting the new one.
        self.daemon_service = self._service(
            "daemon", self.daemon_task_definition, self.daemon_security_group, exec_enabled=False, one_at_a_time=True
        )
        self.service_names = {"webserver": ctx.name("dagster-webserver"), "daemon": ctx.name("dagster-daemon")}

    def _task_definition(
        self, name: str, role: iam.Role, *, environment: dict[str, str], secrets: dict[str, ecs.Secret]
    ) -> ecs.FargateTaskDefinition:
        task = TASKS[name]
        cpu, memory = task.size
        task_definition = ecs.FargateTaskDefinition(
            self,
            f"{name.title()}Task",
            family=self.ctx.name(f"dagster-{name}"),
            cpu=cpu,
            memory_limit_mib=memory,
            execution_role=self.roles.execution,
            task_role=role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        task_definition.add_container(
            RUN_CONTAINER if name == "run" else name,
            image=self.image,
            command=task.command,
            environment=environment,
            secrets=secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=self.log_groups[name]),
            health_check=task.health_check,
            port_mappings=[ecs.PortMapping(container_port=task.port)] if task.port else None,
        )
        acknowledge(
            task_definition,
            "ECS2",
            "The Dagster containers' plain environment holds resource names only (the table, topic, monitored "
            "resources, run task definition); the database credentials are injected from Secrets Manager.",
        )
        return task_definition

    def _service(
        self,
        name: str,
        task_definition: ecs.FargateTaskDefinition,
        security_group: ec2.SecurityGroup,
        *,
        exec_enabled: bool,
        one_at_a_time: bool = False,
    ) -> ecs.FargateService:
        return ecs.FargateService(
            self,
            f"{name.title()}Service",
            service_name=self.ctx.name(f"dagster-{name}"),  # = service_names[name]
            cluster=self.cluster,
            task_definition=task_definition,
            desired_count=1,
            vpc_subnets=PRIVATE,
            security_groups=[security_group],
            assign_public_ip=False,
            platform_version=ecs.FargatePlatformVersion.LATEST,
            enable_execute_command=exec_enabled,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=0 if one_at_a_time else 100,
            max_healthy_percent=100 if one_at_a_time else 200,
            health_check_grace_period=Duration.minutes(3) if name == "webserver" else None,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_ecs_managed_tags=True,
        )
