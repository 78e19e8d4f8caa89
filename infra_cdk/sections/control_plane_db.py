"""The Dagster instance's PostgreSQL: a small RDS instance of its own, with its own credentials in Secrets Manager.

Not a ``dagster`` database on the monitored instance (sections/database.py): that instance's
``DatabaseConnections`` is an alert input (the seed's > 100 rule), and the webserver, the daemon, every
run task and the aggregator would all add connections to it, raising the very number the pipeline judges
the workload by, and sharing its CPU, IOPS and maintenance windows with the workload. A dedicated
instance keeps the observer out of what it observes; docs/infra.md weighs the choice.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.network import Network
from infra_cdk.sections.postgres import POSTGRES_PORT, PostgresSpec, hardened_postgres

# 2 GiB: RDS allows ~190 connections (DBInstanceClassMemory/9531392); the control plane holds a few dozen
# at most (QueuedRunCoordinator's max_concurrent_runs caps the run tasks, dagster-postgres uses NullPool).
INSTANCE_TYPE = ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE4_GRAVITON, ec2.InstanceSize.SMALL)
DATABASE_NAME = "dagster"
USERNAME = "dagster"
ALLOCATED_GB = 20
MAX_ALLOCATED_GB = 100
LOG_EXPORTS = ("postgresql",)
SLOW_STATEMENT_MS = 2000
RESOURCE = "dagster-db"


class DagsterDatabase(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, ctx: InfraContext, encryption: Encryption, network: Network
    ) -> None:
        super().__init__(scope, construct_id)
        self.instance_identifier = ctx.name(RESOURCE)

        self.security_group = network.security_group(
            self,
            "SecurityGroup",
            ctx.name("dagster-db-sg"),
            "Dagster instance PostgreSQL: 5432 from the Dagster tasks and the aggregator only",
        )
        spec = PostgresSpec(
            resource=RESOURCE,
            title="Dagster instance PostgreSQL",
            instance_type=INSTANCE_TYPE,
            # Every aggregator run writes here first: outside dev, a failover must not stop the 5-minute cadence.
            multi_az=not ctx.is_dev,
            database_name=DATABASE_NAME,
            username=USERNAME,
            log_exports=LOG_EXPORTS,
            slow_statement_ms=SLOW_STATEMENT_MS,
            backup_window="03:30-04:00",
            maintenance_window="sun:04:30-sun:05:00",
            allocated_gb=ALLOCATED_GB,
            max_allocated_gb=MAX_ALLOCATED_GB,
            # cw_pipeline/runtime/instance.py reads the secret's fields, which ECS injects one by one.
            dbname_in_secret=True,
        )
        postgres = hardened_postgres(
            self, ctx=ctx, encryption=encryption, network=network, security_group=self.security_group, spec=spec
        )
        self.instance = postgres.instance
        # The attached secret: its ARN is what the Lambda and ECS read, once host and port are in it.
        self.secret = postgres.secret

        acknowledge(
            postgres.own_secret,
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
