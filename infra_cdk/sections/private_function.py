"""The container-image Lambda in the private subnets, as both of this app's functions (API, aggregator) are built.

What the caller brings is what differs: the function's name, image, role (``Network.lambda_role``) and
security group (``Network.lambda_security_group``), sizes and environment; the placement (the VPC's private
subnets), the architecture the images are built for, JSON logs and an explicit encrypted log group are shared.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra_cdk import packaging
from infra_cdk.sections.encryption import Encryption
from infra_cdk.sections.network import PRIVATE, Network


def private_function(
    scope: Construct,
    *,
    encryption: Encryption,
    network: Network,
    function_name: str,
    description: str,
    code: lambda_.DockerImageCode,
    role: iam.IRole,
    security_group: ec2.ISecurityGroup,
    memory_size: int,
    timeout: Duration,
    environment: dict[str, str],
    **options: Any,
) -> lambda_.DockerImageFunction:
    """``Function`` in ``scope`` with its log group ``FunctionLogs``; ``options`` are further DockerImageFunction
    properties (reserved concurrency, asynchronous retries, a dead-letter queue)."""
    # Lambda would otherwise create /aws/lambda/<name> on first write: unencrypted and kept forever.
    log_group = encryption.log_group(scope, "FunctionLogs", f"/aws/lambda/{function_name}")
    return lambda_.DockerImageFunction(
        scope,
        "Function",
        function_name=function_name,
        description=description,
        code=code,
        architecture=packaging.ARCHITECTURE,
        memory_size=memory_size,
        timeout=timeout,
        role=role,
        vpc=network.vpc,
        vpc_subnets=PRIVATE,
        security_groups=[security_group],
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        environment=environment,
        **options,
    )
