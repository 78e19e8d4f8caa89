"""The one way this app builds an RDS PostgreSQL instance: the monitored database and the Dagster instance's.

Both get the same baseline: private subnets only (their own subnet group), storage encrypted with the project
key, GP3 with autoscaling, TLS-only connections, IAM authentication, 7-day backups, minor upgrades,
deletion protection and a final snapshot outside dev, and exported logs in explicit encrypted log groups.
What a database chooses is its `PostgresSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra_cdk.context import InfraContext
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.network import PRIVATE, Network

POSTGRES_PORT = 5432
ENGINE = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_9)
BACKUP_RETENTION = Duration.days(7)


@dataclass(frozen=True)
class PostgresSpec:
    """What differs between the PostgreSQL instances; everything else is the shared baseline."""

    resource: str  # the instance is ctx.name(resource); its parameters, subnets and secret are named after it
    title: str  # how descriptions name it, e.g. "Dagster instance PostgreSQL"
    instance_type: ec2.InstanceType
    multi_az: bool
    database_name: str
    username: str
    log_exports: tuple[str, ...]
    slow_statement_ms: int  # log_min_duration_statement
    backup_window: str
    maintenance_window: str
    allocated_gb: int = 20
    max_allocated_gb: int = 100
    # The instance's generated secret has no dbname; a client that reads the secret field by field (ECS
    # injecting DAGSTER_PG_DB) needs a secret of its own that carries it.
    dbname_in_secret: bool = False


@dataclass(frozen=True)
class Postgres:
    instance: rds.DatabaseInstance
    secret: secretsmanager.ISecret  # attached to the instance: host and port are in it
    own_secret: rds.DatabaseSecret | None  # the secret created beside the instance when dbname_in_secret


def hardened_postgres(
    scope: Construct,
    *,
    ctx: InfraContext,
    encryption: Encryption,
    network: Network,
    security_group: ec2.ISecurityGroup,
    spec: PostgresSpec,
) -> Postgres:
    """The instance ``Instance`` in ``scope``, with its log groups, parameter group, subnet group and secret."""
    vpc = network.vpc
    instance_identifier = ctx.name(spec.resource)
    # RDS creates these groups on its own when they are missing: created here, they are encrypted.
    log_groups = [
        encryption.log_group(scope, f"LogGroup-{name}", f"/aws/rds/instance/{instance_identifier}/{name}")
        for name in spec.log_exports
    ]
    parameters = rds.ParameterGroup(
        scope,
        "Parameters",
        engine=ENGINE,
        name=ctx.name(f"{spec.resource}-params"),
        description=f"{spec.title}: TLS only, slow statements logged",
        parameters={"rds.force_ssl": "1", "log_min_duration_statement": str(spec.slow_statement_ms)},
    )
    secret_name = ctx.name(f"{spec.resource}-credentials")
    own_secret = None
    if spec.dbname_in_secret:
        # The RDS shape (username, password, dbname; host and port added by the attachment).
        own_secret = rds.DatabaseSecret(
            scope,
            "Secret",
            username=spec.username,
            dbname=spec.database_name,
            secret_name=secret_name,
            encryption_key=encryption.key,
        )
        credentials = rds.Credentials.from_secret(own_secret)
    else:
        credentials = rds.Credentials.from_generated_secret(
            spec.username, secret_name=secret_name, encryption_key=encryption.key
        )
    instance = rds.DatabaseInstance(
        scope,
        "Instance",
        instance_identifier=instance_identifier,
        engine=ENGINE,
        instance_type=spec.instance_type,
        vpc=vpc,
        vpc_subnets=PRIVATE,
        subnet_group=rds.SubnetGroup(
            scope,
            "Subnets",
            vpc=vpc,
            vpc_subnets=PRIVATE,
            subnet_group_name=ctx.name(f"{spec.resource}-subnets"),
            description=f"{spec.title}: private subnets",
            removal_policy=RemovalPolicy.DESTROY,
        ),
        security_groups=[security_group],
        port=POSTGRES_PORT,
        multi_az=spec.multi_az,
        publicly_accessible=False,
        storage_encrypted=True,
        storage_encryption_key=encryption.key,
        storage_type=rds.StorageType.GP3,
        allocated_storage=spec.allocated_gb,
        max_allocated_storage=spec.max_allocated_gb,
        database_name=spec.database_name,
        credentials=credentials,
        parameter_group=parameters,
        backup_retention=BACKUP_RETENTION,
        preferred_backup_window=spec.backup_window,
        preferred_maintenance_window=spec.maintenance_window,
        copy_tags_to_snapshot=True,
        delete_automated_backups=ctx.is_dev,
        deletion_protection=not ctx.is_dev,
        removal_policy=RemovalPolicy.DESTROY if ctx.is_dev else RemovalPolicy.SNAPSHOT,
        auto_minor_version_upgrade=True,
        cloudwatch_logs_exports=list(spec.log_exports),
        iam_authentication=True,
    )
    # On the DB instance resource only: a construct-level dependency would also hold back whatever depends on
    # the instance construct (RDS Proxy's role, which the key policy names: a cycle through the key).
    instance_resource = instance.node.default_child
    for group in log_groups:
        instance_resource.node.add_dependency(group)
    secret = instance.secret
    assert secret is not None  # credentials always come from a secret here
    return Postgres(instance=instance, secret=secret, own_secret=own_secret)
