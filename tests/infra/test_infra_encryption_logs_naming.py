"""Encryption and logs (one rotated CMK, explicit encrypted 30-day log groups), naming, and stack outputs."""

from __future__ import annotations

import json
import re

from aws_cdk.assertions import Match, Template

from tests.infra.cdk_template import one, ref, resources


def test_one_customer_managed_key_with_rotation_and_service_access(dev: Template, dev_json: dict) -> None:
    dev.resource_count_is("AWS::KMS::Key", 1)
    _, key = one(dev_json, "AWS::KMS::Key")
    assert key["EnableKeyRotation"] is True
    principals = json.dumps(key["KeyPolicy"])
    assert "logs.eu-west-1.amazonaws.com" in principals and "cloudwatch.amazonaws.com" in principals
    dev.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/cw-analytics-dev-key"})


def test_every_log_group_is_explicit_encrypted_and_kept_30_days(dev_json: dict) -> None:
    key_id, _ = one(dev_json, "AWS::KMS::Key")
    groups = resources(dev_json, "AWS::Logs::LogGroup")
    assert groups
    for group in groups.values():
        assert ref(group["KmsKeyId"]) == key_id
        assert group["RetentionInDays"] == 30
    # No log-retention custom resource, and every function logs to one of these groups.
    assert not any(r["Type"] == "Custom::LogRetention" for r in dev_json["Resources"].values())
    for function in resources(dev_json, "AWS::Lambda::Function").values():
        assert ref(function["LoggingConfig"]["LogGroup"]) in groups
    names = json.dumps([g["LogGroupName"] for g in groups.values()])
    for expected in (
        "/aws/lambda/cw-analytics-dev-api-handler",
        "/aws/lambda/cw-analytics-dev-aggregator",
        "/aws/lambda/cw-analytics-dev-db-rotation",
        "/aws/rds/instance/cw-analytics-dev-db/postgresql",
        "/aws/rds/proxy/cw-analytics-dev-db-proxy",
        "/aws/apigateway/cw-analytics-dev-api/access",
        "API-Gateway-Execution-Logs_",
        "/aws/vpc/cw-analytics-dev-vpc/flow-logs",
    ):
        assert expected in names, expected


NAME_PROPERTIES = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBProxy": "DBProxyName",
    "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::RDS::DBParameterGroup": "DBParameterGroupName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::CompositeAlarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::ApiGateway::RequestValidator": "Name",
}


def test_every_named_resource_follows_the_pattern_for_a_non_default_env(qa_json: dict) -> None:
    pattern = re.compile(r"^cw-analytics-qa-[a-z0-9-]+$")
    for resource_type, prop in NAME_PROPERTIES.items():
        found = resources(qa_json, resource_type)
        assert found, resource_type
        for props in found.values():
            assert pattern.match(props[prop]), (resource_type, props[prop])
    for role in resources(qa_json, "AWS::IAM::Role").values():
        if "RoleName" in role:
            assert pattern.match(role["RoleName"]), role["RoleName"]
    for group in resources(qa_json, "AWS::Logs::LogGroup").values():
        name = json.dumps(group["LogGroupName"])
        assert "cw-analytics-qa-" in name or "API-Gateway-Execution-Logs_" in name, name
    assert "cw-analytics-dev" not in json.dumps(qa_json)
    one(qa_json, "AWS::Lambda::Function", FunctionName="cw-analytics-qa-api-handler")
    one(qa_json, "AWS::ApiGateway::RestApi", Name="cw-analytics-qa-api")


def test_stack_outputs_for_api_url_table_topic_and_dashboard(qa: Template, qa_json: dict) -> None:
    outputs = qa_json["Outputs"]
    for output in ("ApiUrl", "MetricsTableName", "AlertsTopicArn", "DashboardName", "ReportsBucketName"):
        assert output in outputs
    assert "execute-api" in json.dumps(outputs["ApiUrl"]["Value"])
    qa.has_output("DashboardName", {"Value": "cw-analytics-qa-dashboard"})
    qa.has_output("MetricsTableName", {"Value": {"Ref": Match.string_like_regexp("StorageMetricsTable")}})
