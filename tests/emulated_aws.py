"""In-process moto AWS for the pipeline and handler tests: the project's table, topic and inbox queue.

One place for what both suites need: moto with the percentile support installed, the resources the CDK
app creates (via `cw_local.provision`), readers for items and notifications, a datapoint
writer, and a count of every AWS call, recorded in botocore below the code under test.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import boto3
import botocore.client
from moto import mock_aws

from cw_local import percentiles
from cw_local.provision import ProvisionedResources, provision, read_notifications


@dataclass
class EmulatedAws:
    session: boto3.Session
    resources: ProvisionedResources
    calls: Counter = field(default_factory=Counter)  # (service, operation) -> calls made

    def items(self) -> list[dict]:
        table = self.session.resource("dynamodb").Table(self.resources.table_name)
        items, request = [], {}
        while True:
            page = table.scan(ConsistentRead=True, **request)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def item(self, pk: str, sk: str) -> dict | None:
        table = self.session.resource("dynamodb").Table(self.resources.table_name)
        return table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")

    def notifications(self) -> list[dict]:
        return read_notifications(self.session, self.resources.inbox_queue_url)

    def put(self, namespace: str, dimension: str, resource: str, metric: str, when: datetime, values: list[float],
            unit: str = "None") -> None:  # fmt: skip
        self.session.client("cloudwatch").put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": dimension, "Value": resource}],
                    "Timestamp": when,
                    "Values": values,
                    "Unit": unit,
                }
            ],
        )


@contextlib.contextmanager
def emulated_aws() -> Iterator[EmulatedAws]:
    percentiles.install()
    original = botocore.client.BaseClient._make_api_call
    with mock_aws():
        aws = EmulatedAws(boto3.Session(), ProvisionedResources("", "", ""))
        aws.resources = provision(aws.session)

        def recording(client, operation_name, api_params):
            aws.calls[(client.meta.service_model.service_name, operation_name)] += 1
            return original(client, operation_name, api_params)

        botocore.client.BaseClient._make_api_call = recording
        try:
            yield aws
        finally:
            botocore.client.BaseClient._make_api_call = original
