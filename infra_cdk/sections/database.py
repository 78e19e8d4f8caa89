"""Data flow step 2's database: RDS PostgreSQL (db.t3.small, Multi-AZ) behind RDS Proxy, credentials rotated.

Why RDS Proxy: the seed lets the API Lambda scale to 1,000 concurrent executions, and each execution
holds one connection, while a db.t3.small (2 GiB) allows about 200 (``DBInstanceClassMemory/9531392``).
The proxy multiplexes the Lambdas' client connections over a pool capped at ``PROXY_MAX_CONNECTIONS_PERCENT``
of the instance's limit, so a burst waits up to ``PROXY_BORROW_TIMEOUT`` for a connection instead of
exhausting the server (and the rotation function and operators keep headroom). See docs/infra.md.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cw_pipeline import naming
from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.network import PRIVATE, Network
from infra_cdk.sections.postgres import POSTGRES_PORT, PostgresSpec, hardened_postgres

DATABASE_NAME = "interactions"
MASTER_USERNAME = "cwadmin"
INSTANCE_TYPE = ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE3, ec2.InstanceSize.SMALL)
LOG_EXPORTS = ("postgresql", "upgrade")
SLOW_STATEMENT_MS = 1000
ROTATION_PERIOD = Duration.days(30)
PROXY_MAX_CONNECTIONS_PERCENT = 40
PROXY_MAX_IDLE_CONNECTIONS_PERCENT = 10
PROXY_BORROW_TIMEOUT = Duration.seconds(10)


class Database(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, ctx: InfraContext, encryption: Encryption, network: Network
    ) -> None:
        super().__init__(scope, construct_id)
        vpc = network.vpc
        self.instance_identifier = ctx.name(naming.DATABASE)
        self.proxy_name = ctx.name("db-proxy")

        self.security_group = network.security_group(
            self,
            "InstanceSecurityGroup",
            ctx.name("db-sg"),
            "RDS PostgreSQL: port 5432 from RDS Proxy and the rotation function only",
        )
        self.proxy_security_group = network.security_group(
            self, "ProxySecurityGroup", ctx.name("db-proxy-sg"), "RDS Proxy: port 5432 from the API Lambda only"
        )
        self.proxy_security_group.add_egress_rule(
            ec2.Peer.security_group_id(network.endpoint_security_group.security_group_id),
            ec2.Port.tcp(443),
            "HTTPS to the Secrets Manager and KMS endpoints",
        )
        self.rotation_security_group = network.lambda_security_group(
            self,
            "RotationSecurityGroup",
            ctx.name("db-rotation-sg"),
            "Secret rotation Lambda: to PostgreSQL and endpoints",
        )
        self.rotation_security_group.connections.allow_to(
            self.security_group, ec2.Port.tcp(POSTGRES_PORT), "Secret rotation to PostgreSQL"
        )

        spec = PostgresSpec(
            resource=naming.DATABASE,
            title="cw-analytics PostgreSQL",
            instance_type=INSTANCE_TYPE,
            multi_az=True,
            database_name=DATABASE_NAME,
            username=MASTER_USERNAME,
            log_exports=LOG_EXPORTS,
            slow_statement_ms=SLOW_STATEMENT_MS,
            backup_window="03:00-03:30",
            maintenance_window="sun:04:00-sun:04:30",
        )
        postgres = hardened_postgres(
            self, ctx=ctx, encryption=encryption, network=network, security_group=self.security_group, spec=spec
        )
        self.instance = postgres.instance
        self.secret = postgres.secret

        self.rotation_function_name = ctx.name("db-rotation")
        encryption.log_group(self, "RotationLogs", f"/aws/lambda/{self.rotation_function_name}")
        self.secret.add_rotation_schedule(
            "Rotation",
            automatically_after=ROTATION_PERIOD,
            hosted_rotation=secretsmanager.HostedRotation.postgre_sql_single_user(
                function_name=self.rotation_function_name,
                vpc=vpc,
                vpc_subnets=PRIVATE,
                security_groups=[self.rotation_security_group],
            ),
        )

        proxy_logs = encryption.log_group(self, "ProxyLogs", f"/aws/rds/proxy/{self.proxy_name}")
        self.proxy = self.instance.add_proxy(
            "Proxy",
            db_proxy_name=self.proxy_name,
            secrets=[self.secret],
            vpc=vpc,
            vpc_subnets=PRIVATE,
            security_groups=[self.proxy_security_group],
            require_tls=True,
            iam_auth=False,
            max_connections_percent=PROXY_MAX_CONNECTIONS_PERCENT,
            max_idle_connections_percent=PROXY_MAX_IDLE_CONNECTIONS_PERCENT,
            borrow_timeout=PROXY_BORROW_TIMEOUT,
            debug_logging=False,
        )
        self.proxy.node.default_child.node.add_dependency(proxy_logs)

        acknowledge(
            self.instance,
            "RDS11",
            "PostgreSQL keeps its default port 5432: RDS Proxy only listens on the engine default, and the "
            "instance's security group admits the proxy and the rotation function only, so a custom port "
            "would hide nothing.",
        )
        if ctx.is_dev:
            acknowledge(
                self.instance,
                "RDS10",
                "Deletion protection is on in every environment except dev, which is torn down and rebuilt "
                "freely; qa and prod instances have DeletionProtection true.",
            )

    def allow_from(self, peer: ec2.SecurityGroup, description: str) -> None:
        """Let a client (the API Lambda) reach PostgreSQL through RDS Proxy on port 5432."""
        peer.connections.allow_to(self.proxy_security_group, ec2.Port.tcp(POSTGRES_PORT), description)
