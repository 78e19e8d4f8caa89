"""Data flow step 5: the DynamoDB table of aggregates and evaluations (key schema from cw_pipeline.naming),
and the private bucket of the daily SLO reports with its server access log bucket.

S3 bucket names are global, so both carry the account id after the usual ``cw-analytics-{env}-...``.
Server access logs can only be delivered to a bucket with SSE-S3 default encryption, so the log bucket
is S3-managed while the reports are encrypted with the project key.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cw_pipeline import naming
from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.encryption import Encryption

REPORTS_EXPIRATION = Duration.days(400)  # a year of daily reports, and the same day last year
ACCESS_LOGS_EXPIRATION = Duration.days(90)
# What writing a report takes: new objects under the report prefix only (no read, list or delete).
REPORT_ACTIONS = ["s3:PutObject"]


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

        removal = RemovalPolicy.DESTROY if ctx.is_dev else RemovalPolicy.RETAIN
        self.access_logs_bucket = s3.Bucket(
            self,
            "ReportsAccessLogs",
            bucket_name=f"{ctx.name(naming.REPORTS_BUCKET)}-logs-{ctx.account}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=ACCESS_LOGS_EXPIRATION)],
            removal_policy=removal,
        )
        acknowledge(
            self.access_logs_bucket,
            "S1",
            "This bucket is itself the server access log destination of the reports bucket; logging it "
            "into itself would loop, and it only receives log objects written by the S3 logging service.",
        )
        self.reports_bucket = s3.Bucket(
            self,
            "ReportsBucket",
            bucket_name=f"{ctx.name(naming.REPORTS_BUCKET)}-{ctx.account}",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-reports",
                    expiration=REPORTS_EXPIRATION,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="reports/",
            removal_policy=removal,
        )

    def grant_report_writes(self, role: iam.IRole) -> None:
        """``s3:PutObject`` on the report prefix for a role that runs the report job (aggregator, run tasks)."""
        prefix = f"{naming.SLO_REPORTS_PREFIX}*"
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteSloReports", actions=REPORT_ACTIONS, resources=[self.reports_bucket.arn_for_objects(prefix)]
            )
        )
        stack = Stack.of(self)
        bucket_id = stack.resolve(stack.get_logical_id(self.reports_bucket.node.default_child))
        acknowledge(
            role,
            f"IAM5[Resource::<{bucket_id}.Arn>/{prefix}]",
            "A daily report is a new object named after its day, so the grant covers the report prefix; the "
            "only action granted there is s3:PutObject, with no read, list or delete.",
        )
