"""Data flow steps 1-2: the REST API over HTTPS and the API Lambda that queries PostgreSQL through RDS Proxy.

Authorization is AWS IAM (SigV4): the callers of the interactions API are workloads with AWS
credentials, the seed names no user directory, and IAM needs no extra moving part (no Cognito pool,
no authorizer Lambda); a caller is allowed by ``execute-api:Invoke`` on ``ApiInvokeArn``.

Resources and methods mirror the API's own OpenAPI document (interactions_api/openapi.json), so a path
the API does not serve is refused by API Gateway before any Lambda runs. API Gateway validates the
request parameters (required path parameters); the methods declare no body model, so bodies are
validated by the function (pydantic) and every error keeps the API's documented shape (400/413/415/422).
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from constructs import Construct

from cw_pipeline import naming
from infra_cdk import packaging
from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.database import Database
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.network import Network
from infra_cdk.sections.private_function import private_function

STAGE = "v1"
OPENAPI = packaging.API_DIR / "openapi.json"
THROTTLING_RATE_LIMIT = 500  # requests per second; the seed's 100k interactions a day average ~1.2
THROTTLING_BURST_LIMIT = 1000
METRICS_NAMESPACE = "CwAnalytics/Api"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def openapi_operations(path: Path = OPENAPI) -> list[tuple[str, str, dict[str, bool]]]:
    """(path, METHOD, {request parameter: required}) for every operation of the API's OpenAPI document."""
    document = json.loads(path.read_text())
    operations = []
    for route, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            parameters = {
                f"method.request.{'querystring' if p['in'] == 'query' else p['in']}.{p['name']}": bool(
                    p.get("required", False)
                )
                for p in operation.get("parameters", []) + item.get("parameters", [])
                if p["in"] in ("path", "query", "header")
            }
            operations.append((route, method.upper(), parameters))
    return operations


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ctx: InfraContext,
        encryption: Encryption,
        network: Network,
        database: Database,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api_name = ctx.name(naming.API)
        self.function_name = ctx.name(naming.API_FUNCTION)

        # The API Lambda: private subnets, reaches PostgreSQL only through RDS Proxy.
        self.security_group = network.lambda_security_group(
            self, "FunctionSecurityGroup", ctx.name("api-handler-sg"), "API Lambda: to RDS Proxy and endpoints"
        )
        database.allow_from(self.security_group, "API Lambda to RDS Proxy")
        self.role = network.lambda_role(
            self,
            "FunctionRole",
            ctx.name("api-handler-role"),
            "API Lambda: ENIs in the VPC, its log group, the database secret",
        )
        self.function = private_function(
            self,
            encryption=encryption,
            network=network,
            function_name=self.function_name,
            description="cw-analytics interactions API (API Gateway proxy integration -> PostgreSQL)",
            code=packaging.api_code(),
            role=self.role,
            security_group=self.security_group,
            memory_size=512,
            timeout=Duration.seconds(15),
            environment={
                "DB_SECRET_ARN": database.secret.secret_arn,
                "DB_HOST": database.proxy.endpoint,
                "DB_SSLMODE": "require",
                "POWERTOOLS_SERVICE_NAME": self.api_name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )
        database.secret.grant_read(self.function)
        # The REST API: regional endpoint (HTTPS only), stage with access and execution logs, IAM auth.
        access_logs = encryption.log_group(self, "AccessLogs", f"/aws/apigateway/{self.api_name}/access")
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=self.api_name,
            description="cw-analytics interactions API",
            endpoint_configuration=apigw.EndpointConfiguration(types=[apigw.EndpointType.REGIONAL]),
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=THROTTLING_RATE_LIMIT,
                throttling_burst_limit=THROTTLING_BURST_LIMIT,
            ),
        )
        # API Gateway would create the execution-log group itself, unencrypted and kept forever.
        execution_logs = encryption.log_group(
            self, "ExecutionLogs", f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{STAGE}"
        )
        self.rest_api.deployment_stage.node.add_dependency(execution_logs)
        acknowledge(
            self.rest_api,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway logging role uses the AWS-managed push-to-CloudWatch-Logs policy, "
            "the documented minimum for stage execution logs.",
        )

        self.validator = self.rest_api.add_request_validator(
            "ParameterValidator",
            request_validator_name=ctx.name("api-parameters"),
            validate_request_parameters=True,
            # Applies where a method declares a body model; none does, by design (module docstring).
            validate_request_body=True,
        )
        integration = apigw.LambdaIntegration(self.function, proxy=True, allow_test_invoke=False)
        self.operations = openapi_operations()
        for route, method, parameters in self.operations:
            resource = self.rest_api.root.resource_for_path(route)
            resource.add_method(
                method,
                integration,
                authorization_type=apigw.AuthorizationType.IAM,
                request_validator=self.validator,
                request_parameters=parameters or None,
            )
        acknowledge(
            self.rest_api,
            "COG4",
            "The API authorizes with AWS IAM (SigV4) instead of a Cognito user pool: its callers are "
            "workloads with AWS credentials and the seed has no user directory (docs/infra.md).",
        )

        acknowledge(
            self.rest_api.deployment_stage,
            "APIG3",
            "No WAF web ACL yet (the seed lists WAF under production considerations): unsigned requests are "
            "refused by IAM authorization before any integration runs, and the stage is throttled.",
        )

        stack = Stack.of(self)
        self.invoke_arn = stack.format_arn(
            service="execute-api", resource=self.rest_api.rest_api_id, resource_name=f"{STAGE}/*/*"
        )
