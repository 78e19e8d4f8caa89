"""Create, in an AWS emulator, the resources the CDK app creates for the pipeline.

Same names, keys and TTL attribute as infra_cdk (both read `cw_pipeline.naming`), plus one thing the
CDK app does not have: an SQS queue subscribed to the alerts topic, standing in for the e-mail
subscription so that notifications can be read back. `scan_table` and `read_notifications` read back
what the pipeline wrote and sent there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from cw_pipeline import naming

ALERTS_INBOX_QUEUE = "alerts-inbox"


@dataclass(frozen=True)
class ProvisionedResources:
    table_name: str
    topic_arn: str
    inbox_queue_url: str


def provision(session, env: str = "dev") -> ProvisionedResources:
    """Create the metrics table, the alerts topic and its inbox queue; existing ones are reused."""
    dynamodb = session.client("dynamodb")
    table_name = naming.resource_name(env, naming.METRICS_TABLE)
    if table_name not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=table_name,
            KeySchema=[
                {"AttributeName": naming.TABLE_PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": naming.TABLE_SORT_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": naming.TABLE_PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": naming.TABLE_SORT_KEY, "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.get_waiter("table_exists").wait(TableName=table_name)
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": naming.TABLE_TTL_ATTRIBUTE},
        )

    sns = session.client("sns")
    topic_arn = sns.create_topic(Name=naming.resource_name(env, naming.ALERTS_TOPIC))["TopicArn"]

    sqs = session.client("sqs")
    queue_url = sqs.create_queue(QueueName=naming.resource_name(env, ALERTS_INBOX_QUEUE))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscribed = {s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]}
    if queue_arn not in subscribed:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return ProvisionedResources(table_name, topic_arn, queue_url)


def scan_table(session, table_name: str) -> list[dict]:
    """Every item of the table (consistent reads, every page), DynamoDB numbers as floats."""
    table = session.resource("dynamodb").Table(table_name)
    items, request = [], {}
    while True:
        page = table.scan(ConsistentRead=True, **request)
        items.extend({key: _plain(value) for key, value in item.items()} for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _plain(value):
    return float(value) if isinstance(value, Decimal) else value


def read_notifications(session, queue_url: str, max_batches: int = 50) -> list[dict]:
    """Drain the inbox queue: each SNS notification as ``{"subject", "message", "attributes"}``."""
    sqs = session.client("sqs")
    received: list[dict] = []
    for _ in range(max_batches):
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = batch.get("Messages", [])
        if not messages:
            break
        for message in messages:
            envelope = json.loads(message["Body"])
            received.append(
                {
                    "subject": envelope.get("Subject"),
                    "message": json.loads(envelope["Message"]),
                    "attributes": {
                        name: attribute["Value"] for name, attribute in envelope.get("MessageAttributes", {}).items()
                    },
                }
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return received
