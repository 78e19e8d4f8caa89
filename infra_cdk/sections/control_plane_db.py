"""The Dagster instance's PostgreSQL: a small RDS instance of its own, with its own credentials in Secrets Manager.

Not a ``dagster`` database on the monitored instance (sections/database.py): that instance's
``DatabaseConnections`` is an alert input (the seed's > 100 rule), and the webserver, the daemon, every
run task and the aggregator would all add connections to it, raising the very number the pipeline judges
the workload by, and sharing its CPU, IOPS and maintenance windows with the workload. A dedicated
instance keeps the observer out of what it observes; docs/infra.md weighs the choice.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.database import ENGINE, POSTGRES_PORT
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.network import PRIVATE, Network

# 2 GiB: RDS allows ~190 connections (DBInstanceClassMemory/9531392); the control plane holds a few dozen
# at most (QueuedRunCoordinator's max_concurrent_runs caps the run tasks, dagster-postgres uses NullPool).
INSTANCE_TYPE = ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE4_GRAVITON, ec2.InstanceSize.SMALL)
DATABASE_NAME = "dagster"
USERNAME = "dagster"
ALLOCATED_GB = 20
MAX_ALLOCATED_GB = 100
BACKUP_RETENTION = Duration.days(7)
LOG_EXPORTS = ("postgresql",)


class DagsterDatabase(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, ctx: InfraContext, encryption: Encryption, network: Network
    ) -> None:
        super().__init__(scope, construct_id)
        vpc = network.vpc
        self.instance_identifier = ctx.name("dagster-db")

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            security_group_name=ctx.name("dagster-db-sg"),
            description="Dagster instance PostgreSQL: 5432 from the Dagster tasks and the aggregator only",
            allow_all_outbound=False,
        )
        log_groups = [
            encryption.log_group(self, f"LogGroup-{name}", f"/aws/rds/instance/{self.instance_identifier}/{name}")
            for name in LOG_EXPORTS
        ]
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=ENGINE,
            name=ctx.name("dagster-db-params"),
            description="Dagster instance PostgreSQL: TLS only, slow statements logged",
            parameters={"rds.force_ssl": "1", "log_min_duration_statement": "2000"},
        )
        # The RDS shape (username, password, dbname; host and port added by the attachment) that
        # cw_pipeline/runtime/instance.py reads and ECS injects field by field.
        secret = rds.DatabaseSecret(
            self,
            "Secret",
            username=USERNAME,
            dbname=DATABASE_NAME,
            secret_name=ctx.name("dagster-db-credentials"),
            encryption_key=encryption.key,
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            instance_identifier=self.instance_identifier,
            engine=ENGINE,
            instance_type=INSTANCE_TYPE,
            vpc=vpc,
            vpc_subnets=PRIVATE,
            subnet_group=rds.SubnetGroup(
                self,
                "Subnets",
                vpc=vpc,
                vpc_subnets=PRIVATE,
                subnet_group_name=ctx.name("dagster-db-subnets"),
                description="Dagster instance PostgreSQL: private subnets",
                removal_policy=RemovalPolicy.DESTROY,
            ),
            security_groups=[self.security_group],
            port=POSTGRES_PORT,
            # Every aggregator run writes here first: outside dev, a failover must not stop the 5-minute cadence.
            multi_az=not ctx.is_dev,
            publicly_accessible=False,
            storage_encrypted=True,
            storage_encryption_key=encryption.key,
            storage_type=rds.StorageType.GP3,
            allocated_storage=ALLOCATED_GB,
            max_allocated_storage=MAX_ALLOCATED_GB,
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_secret(secret),
            parameter_group=parameters,
            backup_retention=BACKUP_RETENTION,
            preferred_backup_window="03:30-04:00",
            preferred_maintenance_window="sun:04:30-sun:05:00",
            copy_tags_to_snapshot=True,
            delete_automated_backups=ctx.is_dev,
            deletion_protection=not ctx.is_dev,
            removal_policy=RemovalPolicy.DESTROY if ctx.is_dev else RemovalPolicy.SNAPSHOT,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            iam_authentication=True,
        )
        instance_resource = self.instance.node.default_child
        for group in log_groups:
            instance_resource.node.add_dependency(group)
        # The attached secret: its ARN is what the Lambda and ECS read, once host and port are in it.
        attached = self.instance.secret
        assert attached is not None
        self.secret = attached

        acknowledge(
            secret,
            "SMG4",
            "ECS injects these credentials into the long-running webserver and daemon tasks at start and the "
            "aggregator caches its instance per execution environment, so an automatic rotation would lock them "
            "out until redeployed; rotation is a documented operator step (docs/infra.md) and the database "
            "admits only Dagster's tasks and the aggregator.",
        )
        acknowledge(
            self.instance,
            "RDS11",
            "The Dagster instance database keeps PostgreSQL's port 5432: its security group admits only the "
            "Dagster task groups and the aggregator, so a non-default port would hide nothing from anyone.",
        )
        if ctx.is_dev:
            acknowledge(
                self.instance,
                "RDS3",
                "Dev's Dagster instance database is single-AZ to halve its cost; it holds run history only, "
                "which dev can lose, and every other environment runs it Multi-AZ.",
            )
            acknowledge(
                self.instance,
                "RDS10",
                "Dev's Dagster instance database is torn down with the environment; deletion protection is on "
                "for the Dagster instance database of every other environment.",
            )

    def allow_from(self, peer: ec2.SecurityGroup, description: str) -> None:
        """Let a client (a Dagster task group, the aggregator Lambda) reach PostgreSQL on 5432."""
        peer.connections.allow_to(self.security_group, ec2.Port.tcp(POSTGRES_PORT), description)
