"""Network architecture: VPC over two AZs, public subnets (internet gateway), private subnets, endpoints, flow logs.

The private subnets have no NAT gateway: the Lambdas, the database and the Dagster tasks on Fargate reach
AWS only through VPC endpoints (gateway endpoints for DynamoDB and S3, interface endpoints for the APIs
below), so nothing in them can reach, or be reached from, the internet.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.encryption import Encryption

VPC_CIDR = "10.40.0.0/16"
PRIVATE = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

# The AWS APIs the private Lambdas (and RDS Proxy, and secret rotation) call.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "CloudWatch": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "Sns": ec2.InterfaceVpcEndpointAwsService.SNS,
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    # The Dagster control plane on Fargate (sections/control_plane.py): image pulls (ECR api + dkr, layers
    # from S3 through the gateway endpoint), the awslogs driver, the daemon's RunTask/DescribeTasks and
    # the ENI lookup EcsRunLauncher makes to copy its own network configuration, and ECS Exec sessions.
    # ecs-agent and ecs-telemetry serve the container agent of EC2 container instances; Fargate needs neither.
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Ecs": ec2.InterfaceVpcEndpointAwsService.ECS,
    "Ec2": ec2.InterfaceVpcEndpointAwsService.EC2,
    "SsmMessages": ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
}


class Network(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, ctx: InfraContext, encryption: Encryption) -> None:
        super().__init__(scope, construct_id)
        flow_logs = encryption.log_group(self, "FlowLogs", f"/aws/vpc/{ctx.name('vpc')}/flow-logs")
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=ctx.name("vpc"),
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=24,
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22),
            ],
            # Nothing uses the default security group; restricting it takes a custom-resource Lambda
            # whose log group could not be made explicit and encrypted.
            restrict_default_security_group=False,
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        self.dynamodb_endpoint = self.vpc.add_gateway_endpoint(
            "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[PRIVATE]
        )
        # ECR serves image layers from S3: Fargate pulls them through this endpoint.
        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[PRIVATE]
        )
        # One security group for every interface endpoint: HTTPS from inside the VPC only.
        self.endpoint_security_group = self.security_group(
            self,
            "EndpointSecurityGroup",
            ctx.name("endpoints-sg"),
            "Interface VPC endpoints: HTTPS from inside the VPC",
        )
        self.endpoint_security_group.add_ingress_rule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), "HTTPS from the VPC")
        self.interface_endpoints = {
            name: self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=PRIVATE,
                private_dns_enabled=True,
                security_groups=[self.endpoint_security_group],
                open=False,
            )
            for name, service in INTERFACE_ENDPOINTS.items()
        }

    def security_group(self, scope: Construct, construct_id: str, name: str, description: str) -> ec2.SecurityGroup:
        """A security group of this VPC that lets nothing in or out: each caller opens what it needs."""
        return ec2.SecurityGroup(
            scope,
            construct_id,
            vpc=self.vpc,
            security_group_name=name,
            description=description,
            allow_all_outbound=False,
        )

    def lambda_security_group(
        self, scope: Construct, construct_id: str, name: str, description: str
    ) -> ec2.SecurityGroup:
        """A Lambda's security group: no ingress; egress only HTTPS to the interface endpoints."""
        group = self.security_group(scope, construct_id, name, description)
        group.add_egress_rule(
            ec2.Peer.security_group_id(self.endpoint_security_group.security_group_id),
            ec2.Port.tcp(443),
            "HTTPS to the interface VPC endpoints",
        )
        return group

    def lambda_role(self, scope: Construct, construct_id: str, name: str, description: str) -> iam.Role:
        """The execution role of a Lambda in this VPC: network interfaces and logs, nothing else yet."""
        role = iam.Role(
            scope,
            construct_id,
            role_name=name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
            ],
        )
        acknowledge(
            role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
            "AWSLambdaVPCAccessExecutionRole is the AWS-maintained minimum a Lambda in a VPC needs to manage "
            "its network interfaces (ec2:*NetworkInterface* has no resource-level scoping).",
        )
        return role

    def allow_dynamodb(self, group: ec2.SecurityGroup) -> None:
        """Egress HTTPS to DynamoDB through the gateway endpoint (its prefix list is region-specific)."""
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to DynamoDB via the gateway endpoint")

    def allow_gateway_endpoints(self, group: ec2.SecurityGroup) -> None:
        """Egress HTTPS to DynamoDB and S3 through their gateway endpoints: the private subnets have no other
        route out, and the endpoints' prefix lists are region-specific (unknown at synth)."""
        group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to DynamoDB and S3 via the gateway endpoints"
        )
