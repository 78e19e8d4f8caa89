"""Pipeline: the aggregator image Lambda, its 5-minute schedule with retries and DLQ, its env and least privilege."""

from __future__ import annotations

from cw_pipeline.catalog import Service
from cw_pipeline.config import MonitoredResource, Settings
from cw_pipeline.runtime import instance as instances
from infra_cdk import packaging
from infra_cdk.sections import pipeline
from tests.infra.cdk_template import one, ref, resources


def _aggregator(template: dict, env: str = "dev") -> tuple[str, dict]:
    return one(template, "AWS::Lambda::Function", FunctionName=f"cw-analytics-{env}-aggregator")


def test_aggregator_is_the_container_image_with_the_agreed_handler_and_limits(dev_json: dict) -> None:
    _, function = _aggregator(dev_json)
    assert function["PackageType"] == "Image"
    assert function["ImageConfig"]["Command"] == [packaging.AGGREGATOR_HANDLER]
    assert 1024 <= function["MemorySize"] <= 2048
    assert function["Timeout"] == 300
    assert function["ReservedConcurrentExecutions"] == 1


def test_aggregator_image_fingerprint_skips_the_local_toolchain(synthesis) -> None:
    staged = [p for p in synthesis.outdir.iterdir() if p.name.startswith("asset.") and (p / "Dockerfile").exists()]
    assert staged
    for asset in staged:
        names = {p.name for p in asset.iterdir()}
        assert not names & {".venv", ".tools", "cdk.out", "node_modules", ".git"}


def test_environment_is_the_pipeline_contract_pointing_at_the_real_resources(dev_json: dict) -> None:
    _, function = _aggregator(dev_json)
    variables = function["Environment"]["Variables"]
    table_id, table = one(dev_json, "AWS::DynamoDB::GlobalTable")
    topic_id, _ = one(dev_json, "AWS::SNS::Topic")
    expected = Settings(
        env="dev",
        metrics_table="TABLE",
        alerts_topic_arn="TOPIC",
        resources=(
            MonitoredResource(Service.APIGATEWAY, "cw-analytics-dev-api"),
            MonitoredResource(Service.LAMBDA, "cw-analytics-dev-api-handler"),
            MonitoredResource(Service.RDS, "cw-analytics-dev-db"),
        ),
    ).as_environment()
    assert set(expected) <= set(variables)
    assert ref(variables["CW_METRICS_TABLE"]) == table_id and ref(variables["CW_ALERTS_TOPIC_ARN"]) == topic_id
    bucket_id, _ = one(dev_json, "AWS::S3::Bucket", BucketName="cw-analytics-dev-reports-123456789012")
    assert ref(variables["CW_REPORTS_BUCKET"]) == bucket_id
    for name in set(expected) - {"CW_METRICS_TABLE", "CW_ALERTS_TOPIC_ARN", "CW_REPORTS_BUCKET"}:
        assert variables[name] == expected[name], name
    # The names point at resources this stack creates.
    one(dev_json, "AWS::ApiGateway::RestApi", Name=variables["CW_API_NAMES"])
    one(dev_json, "AWS::Lambda::Function", FunctionName=variables["CW_FUNCTION_NAMES"])
    one(dev_json, "AWS::RDS::DBInstance", DBInstanceIdentifier=variables["CW_DB_INSTANCE_IDS"])
    assert table["TableName"] == "cw-analytics-dev-metrics"
    assert variables["DAGSTER_HOME"].startswith("/tmp/")
    assert variables["DAGSTER_DISABLE_TELEMETRY"] == "true"
    assert variables["POWERTOOLS_SERVICE_NAME"]
    # A long backfill's materializations are written to the Dagster instance in batches, as the handler defaults to.
    assert variables[instances.EVENT_BATCH_SIZE_VARIABLE] == instances.EVENT_BATCH_SIZE


def test_schedule_invokes_every_five_minutes_with_retries_and_a_dead_letter_queue(dev_json: dict) -> None:
    function_id, _ = _aggregator(dev_json)
    _, schedule = one(dev_json, "AWS::Scheduler::Schedule")
    queue_id, queue = one(dev_json, "AWS::SQS::Queue")
    assert schedule["Name"] == "cw-analytics-dev-aggregator-schedule"
    assert schedule["ScheduleExpression"] == "rate(5 minutes)" and schedule["State"] == "ENABLED"
    target = schedule["Target"]
    assert ref(target["Arn"]) == function_id
    assert target["Input"] == '{"scheduled_time":"<aws.scheduler.scheduled-time>"}'
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == pipeline.SCHEDULER_RETRY_ATTEMPTS > 0
    assert ref(target["DeadLetterConfig"]["Arn"]) == queue_id
    assert queue["QueueName"] == "cw-analytics-dev-aggregator-dlq"
    assert ref(queue["KmsMasterKeyId"]) == one(dev_json, "AWS::KMS::Key")[0]
    _, invoke_config = one(dev_json, "AWS::Lambda::EventInvokeConfig")
    assert invoke_config["MaximumRetryAttempts"] == pipeline.ASYNC_RETRY_ATTEMPTS
    _, function = _aggregator(dev_json)
    assert ref(function["DeadLetterConfig"]["TargetArn"]) == queue_id


def _statements(template: dict, role_id: str) -> list[dict]:
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_aggregator_role_is_least_privilege(dev_json: dict) -> None:
    _, function = _aggregator(dev_json)
    statements = _statements(dev_json, ref(function["Role"]))
    table_id, _ = one(dev_json, "AWS::DynamoDB::GlobalTable")
    topic_id, _ = one(dev_json, "AWS::SNS::Topic")
    key_id, _ = one(dev_json, "AWS::KMS::Key")
    # The one conditional grant: deletes in the pipeline's bookkeeping partitions only, never data.
    [delete] = [s for s in statements if "Condition" in s]
    assert _actions(delete) == ["dynamodb:DeleteItem"] and ref(delete["Resource"]) == table_id
    assert delete["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["lease", "outbox"]}}
    by_resource: dict[str, set[str]] = {}
    for statement in (s for s in statements if "Condition" not in s):
        assert statement["Effect"] == "Allow"
        assert not any(action.endswith("*") for action in _actions(statement)), statement
        resource = statement["Resource"]
        by_resource.setdefault(resource if resource == "*" else ref(resource), set()).update(_actions(statement))
    assert by_resource["*"] == set(pipeline.CLOUDWATCH_ACTIONS)
    assert by_resource[table_id] == set(pipeline.TABLE_ACTIONS)
    assert not {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:DeleteTable"} & by_resource[table_id]
    assert by_resource[topic_id] == {"sns:Publish"}
    assert by_resource[key_id] == set(pipeline.KEY_ACTIONS)
