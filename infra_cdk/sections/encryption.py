"""Security architecture, encryption at rest: the one customer-managed KMS key and the log groups it encrypts."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk.context import InfraContext

LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class Encryption(Construct):
    """The project's KMS key (rotated yearly) and a factory for explicit, encrypted, 30-day log groups."""

    def __init__(self, scope: Construct, construct_id: str, *, ctx: InfraContext) -> None:
        super().__init__(scope, construct_id)
        self.ctx = ctx
        self.removal_policy = RemovalPolicy.DESTROY if ctx.is_dev else RemovalPolicy.RETAIN
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{ctx.name('key')}",
            description=f"cw-analytics {ctx.env}: data at rest (DynamoDB, RDS, SNS, SQS, secrets, logs)",
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            pending_window=Duration.days(7 if ctx.is_dev else 30),
            removal_policy=self.removal_policy,
        )
        # CloudWatch Logs encrypts log groups with the key, only for this account's log groups.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogs",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                        )
                    }
                },
            )
        )
        # CloudWatch alarms publish to the encrypted alerts topic.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )

    def log_group(self, scope: Construct, construct_id: str, log_group_name: str) -> logs.LogGroup:
        """An explicit log group: encrypted with the project key, 30-day retention."""
        return logs.LogGroup(
            scope,
            construct_id,
            log_group_name=log_group_name,
            encryption_key=self.key,
            retention=LOG_RETENTION,
            removal_policy=self.removal_policy,
        )
