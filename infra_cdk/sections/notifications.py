"""Data flow step 7: the alerts topic (KMS-encrypted, TLS only) and the operations team's e-mail subscription."""

from __future__ import annotations

from aws_cdk import Annotations, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cw_pipeline import naming
from infra_cdk.context import InfraContext
from infra_cdk.sections.encryption import Encryption


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, ctx: InfraContext, encryption: Encryption) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.topic = sns.Topic(
            self,
            "AlertsTopic",
            topic_name=ctx.name(naming.ALERTS_TOPIC),
            display_name=f"cw-analytics {ctx.env} alerts",
            master_key=encryption.key,
            enforce_ssl=True,
        )
        # CloudWatch alarms of this account publish their ALARM and OK transitions here.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                    },
                },
            )
        )
        if ctx.alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(ctx.alert_email))
        else:
            Annotations.of(self).add_warning_v2(
                "cw-analytics:NoAlertEmail",
                "No alertEmail in context: the alerts topic has no e-mail subscription (pass -c alertEmail=...).",
            )
