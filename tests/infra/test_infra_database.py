"""Database: RDS PostgreSQL db.t3.small, Multi-AZ, KMS-encrypted, private, backed up, rotated, behind RDS Proxy."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from infra_cdk.sections import database
from tests.infra.cdk_template import one, ref


def test_instance_is_a_small_multi_az_encrypted_private_postgres(dev_json: dict) -> None:
    _, instance = one(dev_json, "AWS::RDS::DBInstance", DBInstanceIdentifier="cw-analytics-dev-db")
    key_id, _ = one(dev_json, "AWS::KMS::Key")
    assert instance["Engine"] == "postgres"
    assert instance["DBInstanceClass"] == "db.t3.small"
    assert instance["MultiAZ"] is True
    assert instance["StorageEncrypted"] is True and ref(instance["KmsKeyId"]) == key_id
    assert instance["PubliclyAccessible"] is False
    assert instance["BackupRetentionPeriod"] >= 7
    assert instance["DBInstanceIdentifier"] == "cw-analytics-dev-db"
    assert sorted(instance["EnableCloudwatchLogsExports"]) == sorted(database.LOG_EXPORTS)


def test_deletion_protection_is_off_only_in_dev(dev_json: dict, qa_json: dict) -> None:
    _, dev_instance = one(dev_json, "AWS::RDS::DBInstance", DBInstanceIdentifier="cw-analytics-dev-db")
    qa_id, qa_instance = one(qa_json, "AWS::RDS::DBInstance", DBInstanceIdentifier="cw-analytics-qa-db")
    assert dev_instance["DeletionProtection"] is False
    assert qa_instance["DeletionProtection"] is True
    assert qa_json["Resources"][qa_id]["DeletionPolicy"] == "Snapshot"


def test_parameters_force_tls(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::RDS::DBParameterGroup",
        {"DBParameterGroupName": "cw-analytics-dev-db-params", "Parameters": Match.object_like({"rds.force_ssl": "1"})},
    )


def test_credentials_are_generated_into_an_encrypted_secret_with_rotation(dev_json: dict) -> None:
    key_id, _ = one(dev_json, "AWS::KMS::Key")
    secret_id, secret = one(dev_json, "AWS::SecretsManager::Secret", Name="cw-analytics-dev-db-credentials")
    assert secret["Name"] == "cw-analytics-dev-db-credentials"
    assert "GenerateSecretString" in secret and ref(secret["KmsKeyId"]) == key_id
    _, instance = one(dev_json, "AWS::RDS::DBInstance", DBInstanceIdentifier="cw-analytics-dev-db")
    assert secret_id in str(instance["MasterUserPassword"])
    _, rotation = one(dev_json, "AWS::SecretsManager::RotationSchedule")
    assert rotation["RotationRules"]["ScheduleExpression"] == f"rate({database.ROTATION_PERIOD.to_days():.0f} days)"
    hosted = rotation["HostedRotationLambda"]
    assert hosted["RotationType"] == "PostgreSQLSingleUser"
    assert hosted["RotationLambdaName"] == "cw-analytics-dev-db-rotation"
    assert ref(hosted["KmsKeyArn"]) == key_id


def test_rds_proxy_bounds_the_connections_the_lambdas_can_open(dev_json: dict) -> None:
    proxy_id, proxy = one(dev_json, "AWS::RDS::DBProxy")
    assert proxy["DBProxyName"] == "cw-analytics-dev-db-proxy"
    assert proxy["EngineFamily"] == "POSTGRESQL" and proxy["RequireTLS"] is True
    (auth,) = proxy["Auth"]
    assert auth["AuthScheme"] == "SECRETS"
    _, target = one(dev_json, "AWS::RDS::DBProxyTargetGroup")
    pool = target["ConnectionPoolConfigurationInfo"]
    assert pool["MaxConnectionsPercent"] == database.PROXY_MAX_CONNECTIONS_PERCENT < 100
    assert pool["ConnectionBorrowTimeout"] == database.PROXY_BORROW_TIMEOUT.to_seconds()
    assert ref(target["DBProxyName"]) == proxy_id
