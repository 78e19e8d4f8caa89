"""Storage (the DynamoDB metrics table) and notifications (the encrypted, TLS-only alerts topic)."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from cw_pipeline import naming
from tests.infra.cdk_template import ALERT_EMAIL, one, ref


def test_metrics_table_keys_ttl_billing_encryption_and_pitr(dev_json: dict) -> None:
    _, table = one(dev_json, "AWS::DynamoDB::GlobalTable")
    key_id, _ = one(dev_json, "AWS::KMS::Key")
    assert table["TableName"] == naming.resource_name("dev", naming.METRICS_TABLE)
    assert table["KeySchema"] == [
        {"AttributeName": naming.TABLE_PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": naming.TABLE_SORT_KEY, "KeyType": "RANGE"},
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": naming.TABLE_TTL_ATTRIBUTE, "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"]["SSEEnabled"] is True and table["SSESpecification"]["SSEType"] == "KMS"
    (replica,) = table["Replicas"]
    assert ref(replica["SSESpecification"]["KMSMasterKeyId"]) == key_id
    assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_alerts_topic_is_encrypted_and_refuses_plain_http(dev: Template, dev_json: dict) -> None:
    topic_id, topic = one(dev_json, "AWS::SNS::Topic")
    assert topic["TopicName"] == "cw-analytics-dev-alerts"
    assert ref(topic["KmsMasterKeyId"]) == one(dev_json, "AWS::KMS::Key")[0]
    dev.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": "sns:Publish",
                            }
                        ),
                    ]
                )
            },
        },
    )


def test_email_subscription_comes_from_context(dev: Template, dev_json: dict) -> None:
    topic_id, _ = one(dev_json, "AWS::SNS::Topic")
    dev.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": ALERT_EMAIL, "TopicArn": {"Ref": topic_id}}
    )
