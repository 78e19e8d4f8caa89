"""Who may do what in the Dagster control plane: one execution role, one task role per kind of task.

- execution: what ECS does for every task (image pull, awslogs, the secret's fields); CDK grants it.
- webserver: terminate runs (describe/stop tasks of the Dagster cluster), resolve the run task definition.
- daemon: the same, and launch runs: ``ecs:RunTask`` of the run task definition family in the Dagster
  cluster, tag the tasks at launch, pass the run roles, read its own network interface (EcsRunLauncher
  copies the daemon's subnets and security groups) and the run tasks' log (quoted in failure messages).
- run: the aggregator Lambda's calls (a run task runs the same job), and writing the daily SLO report.

The calls are EcsRunLauncher's own (dagster_aws/ecs/launcher.py and tasks.py).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.pipeline import Pipeline
from infra_cdk.sections.storage import Storage

TERMINATE_ACTIONS = ["ecs:DescribeTasks", "ecs:StopTask"]
EXEC_LOGS_LOGICAL_ID = "ControlPlaneExecLogs0E0C24FC"  # control_plane.py's ExecLogs, as cdk-nag names it


class ControlPlaneRoles(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ctx: InfraContext,
        cluster: ecs.ICluster,
        cluster_name: str,
        run_family: str,
        run_logs: logs.ILogGroup,
        encryption: Encryption,
        storage: Storage,
        pipeline: Pipeline,
    ) -> None:
        super().__init__(scope, construct_id)
        self.ctx = ctx
        stack = Stack.of(self)
        self.execution = self._task_role("Execution", "dagster-execution-role", "ECS: pull, log, inject secrets")
        self.webserver = self._task_role("Webserver", "dagster-webserver-role", "Dagster webserver")
        self.daemon = self._task_role("Daemon", "dagster-daemon-role", "Dagster daemon: launches runs on ECS")
        self.run = self._task_role("Run", "dagster-run-role", "Dagster run task: the pipeline's calls")

        # A run task runs the aggregator's job: the same calls as the Lambda.
        pipeline.grant_run(self.run)  # the daily SLO report job runs here too, from the daemon's schedule

        ecs_arn = f"arn:{stack.partition}:ecs:{stack.region}:{stack.account}"
        tasks = f"{ecs_arn}:task/{cluster_name}/*"  # the literal name: cdk-nag ids are stable
        run_revisions = f"{ecs_arn}:task-definition/{run_family}:*"
        for role in (self.webserver, self.daemon):
            role.add_to_policy(iam.PolicyStatement(sid="TerminateRuns", actions=TERMINATE_ACTIONS, resources=[tasks]))
            # EcsRunLauncher resolves its task definition when the instance first loads it.
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="DescribeRunTaskDefinition", actions=["ecs:DescribeTaskDefinition"], resources=["*"]
                )
            )
        self.daemon.add_to_policy(
            iam.PolicyStatement(
                sid="LaunchRuns",
                actions=["ecs:RunTask"],
                resources=[run_revisions],
                conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
            )
        )
        self.daemon.add_to_policy(
            iam.PolicyStatement(
                sid="TagRunsAtLaunch",
                actions=["ecs:TagResource"],
                resources=[tasks],
                conditions={"StringEquals": {"ecs:CreateAction": "RunTask"}},
            )
        )
        self.daemon.add_to_policy(
            iam.PolicyStatement(
                sid="PassRunRoles",
                actions=["iam:PassRole"],
                resources=[self.run.role_arn, self.execution.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        self.daemon.add_to_policy(
            iam.PolicyStatement(sid="FindOwnNetwork", actions=["ec2:DescribeNetworkInterfaces"], resources=["*"])
        )
        self.daemon.add_to_policy(
            iam.PolicyStatement(sid="ReadRunLogs", actions=["logs:GetLogEvents"], resources=[run_logs.log_group_arn])
        )
        self._acknowledge_wildcards(stack, tasks, run_revisions)

    def _task_role(self, construct_id: str, name: str, description: str) -> iam.Role:
        stack = Stack.of(self)
        return iam.Role(
            self,
            construct_id,
            role_name=self.ctx.name(name),
            description=description,
            # Only ECS tasks of this account may assume it (no confused deputy).
            assumed_by=iam.ServicePrincipal(
                "ecs-tasks.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:ecs:{stack.region}:{stack.account}:*"},
                },
            ),
        )

    def _acknowledge_wildcards(self, stack: Stack, tasks: str, run_revisions: str) -> None:
        acknowledge(
            self.run,
            "IAM5[Resource::*]",
            "A Dagster run task runs the aggregator's job: cloudwatch:GetMetricData and ListMetrics, which have "
            "no resource-level permissions, are its only actions on '*', and both only read metrics.",
        )
        acknowledge(
            self.execution,
            "IAM5[Resource::*]",
            "ECS pulls the control plane image with ecr:GetAuthorizationToken, which AWS grants on '*' only; "
            "the layer reads are scoped to the image's repository.",
        )
        acknowledge(
            self.webserver,
            "IAM5[Resource::*]",
            "The webserver's actions on '*' have no resource-level permissions: ecs:DescribeTaskDefinition, "
            "and the ssmmessages channels and logs:DescribeLogGroups of ECS Exec sessions into its task.",
        )
        acknowledge(
            self.daemon,
            "IAM5[Resource::*]",
            "The daemon's actions on '*' have no resource-level permissions and only read: "
            "ecs:DescribeTaskDefinition and ec2:DescribeNetworkInterfaces (its own subnets and security groups).",
        )
        for role in (self.webserver, self.daemon):
            acknowledge(
                role,
                f"IAM5[Resource::{tasks}]",
                "Run tasks get their ids when launched, so describing and stopping them is granted on the tasks "
                "of the Dagster cluster only, never on other clusters' tasks.",
            )
        acknowledge(
            self.daemon,
            f"IAM5[Resource::{run_revisions}]",
            "ecs:RunTask is granted on every revision of the one run task definition family (a deployment "
            "registers a new revision), and only in the Dagster cluster.",
        )
        exec_logs = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:<{EXEC_LOGS_LOGICAL_ID}>:*"
        acknowledge(
            self.webserver,
            f"IAM5[Resource::{exec_logs}]",
            "ECS Exec writes each session into its own log stream, created at session start, of the one "
            "encrypted exec log group of the Dagster cluster.",
        )
