"""Constants and helpers of the scale tests (fixtures are in conftest.py)."""

from __future__ import annotations

import io
import threading
import zipfile
from collections import Counter
from datetime import UTC, datetime

from dagster import DagsterInstance, Definitions

from cw_pipeline.config import Settings
from cw_pipeline.defs.jobs import JOB_NAME
from cw_pipeline.defs.partitions import range_tags
from cw_pipeline.windows import Window

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
COLLECTED_AT = datetime(2026, 11, 20, 13, 30, 7, tzinfo=UTC)
W1 = Window(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
W2 = Window(datetime(2026, 11, 20, 12, 5, tzinfo=UTC))


def settings_for(aws, **environment: str) -> Settings:
    return Settings.from_env(
        {"CW_METRICS_TABLE": aws.resources.table_name, "CW_ALERTS_TOPIC_ARN": aws.resources.topic_arn, **environment}
    )


def run(defs: Definitions, windows: list[Window]):
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        tags=range_tags(windows),
        instance=DagsterInstance.ephemeral(),
        raise_on_error=True,
    )


def materialized_metadata(result, asset: str) -> dict:
    """The metadata of the run's newest window: every window has the run's figures, that one also its details
    (previews, discovery's counts and sample: `cw_pipeline.defs.metadata.for_windows`)."""
    return {name: value.value for name, value in result.asset_materializations_for_node(asset)[-1].metadata.items()}


class CallCounter:
    """Counts the calls of a boto3 session's clients by operation, from a botocore ``before-call`` hook
    (thread-safe: the pipeline reads stored states from several threads)."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self._lock = threading.Lock()

    def __call__(self, model, **_kwargs) -> None:
        with self._lock:
            self.calls[model.name] += 1


def put_metric(aws, namespace: str, metric: str, dimensions: dict[str, str], when: datetime, value: float) -> None:
    aws.session.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": v} for name, v in dimensions.items()],
                "Timestamp": when,
                "Value": value,
            }
        ],
    )


def create_function(aws, name: str, tags: dict[str, str]) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("handler.py", "def handler(event, context):\n    return None\n")
    iam = aws.session.client("iam")
    try:
        role = iam.get_role(RoleName="scale-test-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="scale-test-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws.session.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()}, Tags=tags,
    )  # fmt: skip


def create_database(aws, identifier: str, tags: dict[str, str]) -> None:
    aws.session.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier, DBInstanceClass="db.t4g.micro", Engine="postgres",
        MasterUsername="scale", MasterUserPassword="scale-password", AllocatedStorage=20,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )  # fmt: skip


def create_rest_api(aws, name: str, tags: dict[str, str]) -> str:
    return aws.session.client("apigateway").create_rest_api(name=name, tags=tags)["id"]
