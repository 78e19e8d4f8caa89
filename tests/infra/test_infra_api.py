"""API: REST API over HTTPS with a stage, access logs, request validation, IAM authorization, the API Lambda."""

from __future__ import annotations

import json
import tomllib

from aws_cdk.assertions import Match, Template

from infra_cdk import packaging
from infra_cdk.sections.api import STAGE, openapi_operations
from tests.infra.cdk_template import one, ref, resources


def test_rest_api_is_regional_https_with_a_logged_traced_stage(dev: Template, dev_json: dict) -> None:
    dev.resource_count_is("AWS::ApiGateway::RestApi", 1)
    dev.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {"Name": "cw-analytics-dev-api", "EndpointConfiguration": {"Types": ["REGIONAL"]}},
    )
    _, stage = one(dev_json, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == STAGE
    assert stage["TracingEnabled"] is True
    destination = json.dumps(stage["AccessLogSetting"]["DestinationArn"])
    access_id, _ = one(dev_json, "AWS::Logs::LogGroup", LogGroupName="/aws/apigateway/cw-analytics-dev-api/access")
    assert f'"Ref": "{access_id}"' in destination
    assert "$context.requestId" in stage["AccessLogSetting"]["Format"]
    (settings,) = stage["MethodSettings"]
    assert settings["LoggingLevel"] in ("ERROR", "INFO") and settings["MetricsEnabled"] is True
    assert settings["DataTraceEnabled"] is False
    # The execution-log group API Gateway would otherwise create on its own, unencrypted.
    dev.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": Match.any_value()}, f"/{STAGE}"]]}},
    )


def test_every_openapi_operation_is_a_method_with_iam_auth_and_request_validation(dev_json: dict) -> None:
    validator_id, validator = one(dev_json, "AWS::ApiGateway::RequestValidator")
    assert validator["ValidateRequestParameters"] is True and validator["ValidateRequestBody"] is True
    methods = resources(dev_json, "AWS::ApiGateway::Method")
    operations = openapi_operations()
    assert len(methods) == len(operations) >= 1
    assert sorted(m["HttpMethod"] for m in methods.values()) == sorted(op[1] for op in operations)
    for method in methods.values():
        assert method["AuthorizationType"] == "AWS_IAM"
        assert ref(method["RequestValidatorId"]) == validator_id
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY" and integration["IntegrationHttpMethod"] == "POST"
        assert "ApiFunction" in str(integration["Uri"])
    required = {name for _, _, params in operations for name, needed in params.items() if needed}
    declared = {name for m in methods.values() for name, needed in m.get("RequestParameters", {}).items() if needed}
    assert required == declared


def test_api_lambda_is_an_image_configured_for_the_database_through_the_proxy(dev_json: dict) -> None:
    _, function = one(dev_json, "AWS::Lambda::Function", FunctionName="cw-analytics-dev-api-handler")
    assert function["PackageType"] == "Image"
    assert function["ImageConfig"]["Command"] == [packaging.API_HANDLER]
    variables = function["Environment"]["Variables"]
    db_id, _ = one(dev_json, "AWS::RDS::DBInstance", DBInstanceIdentifier="cw-analytics-dev-db")
    attachment = one(dev_json, "AWS::SecretsManager::SecretTargetAttachment", TargetId={"Ref": db_id})
    assert ref(variables["DB_SECRET_ARN"]) == attachment[0]
    assert variables["DB_HOST"] == {"Fn::GetAtt": [one(dev_json, "AWS::RDS::DBProxy")[0], "Endpoint"]}
    assert variables["DB_SSLMODE"] == "require"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "cw-analytics-dev-api"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"]


def test_api_image_requirements_are_pyprojects_api_extra_pinned_by_the_lock() -> None:
    project = tomllib.loads((packaging.REPO_ROOT / "pyproject.toml").read_text())
    extra = project["project"]["optional-dependencies"]["api"]
    pinned = packaging.api_requirements()
    assert len(pinned) == len(extra)
    requirements = (packaging.API_DIR / "requirements.txt").read_text().splitlines()
    listed = sorted(line.strip() for line in requirements if line.strip() and not line.startswith("#"))
    assert listed == sorted(pinned)
    dockerfile = (packaging.API_DIR / "Dockerfile").read_text()
    assert "requirements.txt" in dockerfile and "COPY . ${LAMBDA_TASK_ROOT}/interactions_api/" in dockerfile


def test_api_role_reads_only_the_database_secret(dev_json: dict) -> None:
    _, function = one(dev_json, "AWS::Lambda::Function", FunctionName="cw-analytics-dev-api-handler")
    role_id = ref(function["Role"])
    policies = [p for p in resources(dev_json, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Roles"]]
    actions = {
        a
        for p in policies
        for s in p["PolicyDocument"]["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert actions == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
