"""Data flow step 5: the DynamoDB table of aggregates and evaluations (key schema from cw_pipeline.naming)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from cw_pipeline import naming
from infra_cdk.context import InfraContext
from infra_cdk.sections.encryption import Encryption


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, ctx: InfraContext, encryption: Encryption) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "MetricsTable",
            table_name=ctx.name(naming.METRICS_TABLE),
            partition_key=dynamodb.Attribute(name=naming.TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=naming.TABLE_SORT_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=naming.TABLE_TTL_ATTRIBUTE,
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(encryption.key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=not ctx.is_dev,
            removal_policy=RemovalPolicy.DESTROY if ctx.is_dev else RemovalPolicy.RETAIN,
        )
