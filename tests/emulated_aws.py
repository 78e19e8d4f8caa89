"""In-process moto AWS for the pipeline and handler tests: the project's table, topic and inbox queue.

One place for what both suites need: moto with the percentile support installed, the resources the CDK
app creates (via `cw_local.provision`), readers for items and notifications, a datapoint
writer, and a count of every AWS call made after provisioning (`cw_local.fakes.counting_api_calls`, a
botocore hook below the code under test).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import boto3
from moto import mock_aws

from cw_local import percentiles
from cw_local.fakes import ApiCalls, counting_api_calls
from cw_local.provision import ProvisionedResources, provision, read_notifications, scan_table


@dataclass
class EmulatedAws:
    session: boto3.Session
    resources: ProvisionedResources
    calls: ApiCalls  # (service, operation) -> calls made

    def items(self) -> list[dict]:
        return scan_table(self.session, self.resources.table_name)

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
    with mock_aws():
        session = boto3.Session()
        resources = provision(session)
        with counting_api_calls() as calls:
            yield EmulatedAws(session, resources, calls)
