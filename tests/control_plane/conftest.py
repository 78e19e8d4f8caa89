"""The production Dagster instance (cw_pipeline/runtime/dagster.yaml) on the local PostgreSQL, and the ECS
estate its run launcher expects, in moto: the cluster, the run task definition shaped as CDK defines it, and
a daemon task whose metadata endpoint (ECS_CONTAINER_METADATA_URI_V4, served here over HTTP as Fargate
serves it) names that task.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg2
import pytest
from moto import mock_aws
from psycopg2 import sql

from cw_pipeline import naming
from infra_cdk.sections import control_plane
from tests.control_plane.estate import (
    CLUSTER,
    DAEMON_FAMILY,
    ENV,
    IMAGE,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PRODUCTION_YAML,
    RUN_ENVIRONMENT,
    RUN_FAMILY,
    EcsEstate,
    metadata_server,
)


@pytest.fixture(scope="session")
def instance_database() -> Iterator[str]:
    """A database of its own on the local server, as the Dagster instance database; dropped at the end."""
    name = f"cw_control_plane_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as error:
        pytest.fail(f"No PostgreSQL on {PG_HOST}:{PG_PORT} ({error}). Run `bash scripts/ensure-postgres.sh`.")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def production_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instance_database: str) -> Path:
    """DAGSTER_HOME holding the production dagster.yaml, and the variables ECS injects from the secret."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    secret_fields = {"host": PG_HOST, "port": str(PG_PORT), "dbname": instance_database}
    secret_fields |= {"username": PG_USER, "password": ""}  # trust auth locally
    for variable, field in control_plane.PG_SECRET_FIELDS.items():
        monkeypatch.setenv(variable, secret_fields[field])
    return home


@pytest.fixture
def ecs_estate(monkeypatch: pytest.MonkeyPatch, production_home: Path) -> Iterator[EcsEstate]:
    with mock_aws():
        ecs, ec2 = boto3.client("ecs"), boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        # As CDK's VPC (private DNS of the interface endpoints needs it); moto names task ENIs from it.
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.8.0/22")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="daemon", Description="daemon and runs", VpcId=vpc)["GroupId"]
        cluster_arn = ecs.create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
        secret_arn = boto3.client("secretsmanager").create_secret(
            Name=naming.resource_name(ENV, "dagster-db-credentials"),
            SecretString=json.dumps({"host": "db", "port": 5432, "dbname": "dagster", "username": "dagster"}),
        )["ARN"]
        secrets = [
            {"name": variable, "valueFrom": f"{secret_arn}:{field}::"}
            for variable, field in control_plane.PG_SECRET_FIELDS.items()
        ]

        def register(family: str, container: str, environment: dict[str, str]) -> str:
            return ecs.register_task_definition(
                family=family,
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu="1024",
                memory="2048",
                containerDefinitions=[
                    {
                        "name": container,
                        "image": IMAGE,
                        "memory": 2048,  # moto places tasks by container memory; Fargate reads the task's
                        "command": control_plane.RUN_IDLE_COMMAND,
                        "environment": [{"name": k, "value": v} for k, v in environment.items()],
                        "secrets": secrets,
                    }
                ],
            )["taskDefinition"]["taskDefinitionArn"]

        run_arn = register(RUN_FAMILY, control_plane.RUN_CONTAINER, RUN_ENVIRONMENT)
        register(DAEMON_FAMILY, "daemon", {**RUN_ENVIRONMENT, control_plane.RUN_TASK_DEFINITION_VARIABLE: run_arn})
        daemon_task = ecs.run_task(
            cluster=CLUSTER,
            taskDefinition=DAEMON_FAMILY,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}
            },
        )["tasks"][0]
        server = metadata_server({"Cluster": cluster_arn, "TaskARN": daemon_task["taskArn"]})
        monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", f"http://127.0.0.1:{server.server_port}")
        # As in the daemon's container: the revision's ARN.
        monkeypatch.setenv(control_plane.RUN_TASK_DEFINITION_VARIABLE, run_arn)
        try:
            yield EcsEstate(ecs, ec2, cluster_arn, run_arn, daemon_task["taskArn"], subnet, group, secret_arn)
        finally:
            server.shutdown()
