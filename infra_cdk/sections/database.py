"""Data flow step 2's database: RDS PostgreSQL (db.t3.small, Multi-AZ) behind RDS Proxy, credentials rotated.

Why RDS Proxy: the seed lets the API Lambda scale to 1,000 concurrent executions, and each execution
holds one connection, while a db.t3.small (2 GiB) allows about 200 (``DBInstanceClassMemory/9531392``).
The proxy multiplexes the Lambdas' client connections over a pool capped at ``PROXY_MAX_CONNECTIONS_PERCENT``
of the instance's limit, so a burst waits up to ``PROXY_BORROW_TIMEOUT`` for a connection instead of
exhausting the server (and the rotation function and operators keep headroom). See docs/infra.md.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cw_pipeline import naming
from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.network import PRIVATE, Network

POSTGRES_PORT = 5432
DATABASE_NAME = "interactions"
MASTER_USERNAME = "cwadmin"
INSTANCE_TYPE = ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE3, ec2.InstanceSize.SMALL)
ENGINE = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_9)
LOG_EXPORTS = ("postgresql", "upgrade")
BACKUP_RETENTION = Duration.days(7)
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

        self.security_group = ec2.SecurityGroup(
            self,
            "InstanceSecurityGroup",
            vpc=vpc,
            security_group_name=ctx.name("db-sg"),
            description="RDS PostgreSQL: port 5432 from RDS Proxy and the rotation function only",
            allow_all_outbound=False,
        )
        self.proxy_security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            security_group_name=ctx.name("db-proxy-sg"),
            description="RDS Proxy: port 5432 from the API Lambda only",
            allow_all_outbound=False,
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

        # RDS creates these groups on its own when they are missing: created here, they are encrypted.
        log_groups = [
            encryption.log_group(self, f"LogGroup-{name}", f"/aws/rds/instance/{self.instance_identifier}/{name}")
            for name in LOG_EXPORTS
        ]
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=ENGINE,
            name=ctx.name("db-params"),
            description="cw-analytics PostgreSQL: TLS only, slow statements logged",
            parameters={"rds.force_ssl": "1", "log_min_duration_statement": "1000"},
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
                subnet_group_name=ctx.name("db-subnets"),
                description="cw-analytics PostgreSQL: private subnets",
                removal_policy=RemovalPolicy.DESTROY,
            ),
            security_groups=[self.security_group],
            port=POSTGRES_PORT,
            multi_az=True,
            publicly_accessible=False,
            storage_encrypted=True,
            storage_encryption_key=encryption.key,
            storage_type=rds.StorageType.GP3,
            allocated_storage=20,
            max_allocated_storage=100,
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(
                MASTER_USERNAME, secret_name=ctx.name("db-credentials"), encryption_key=encryption.key
            ),
            parameter_group=parameters,
            backup_retention=BACKUP_RETENTION,
            preferred_backup_window="03:00-03:30",
            preferred_maintenance_window="sun:04:00-sun:04:30",
            copy_tags_to_snapshot=True,
            delete_automated_backups=ctx.is_dev,
            deletion_protection=not ctx.is_dev,
            removal_policy=RemovalPolicy.DESTROY if ctx.is_dev else RemovalPolicy.SNAPSHOT,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            iam_authentication=True,
        )
        # On the DB instance resource only: a construct-level dependency would also hold back the
        # proxy's role, which the key policy names (a cycle through the key).
        instance_resource = self.instance.node.default_child
        for group in log_groups:
            instance_resource.node.add_dependency(group)
        self.secret = self.instance.secret
        assert self.secret is not None

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
