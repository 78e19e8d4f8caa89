"""A run launched through the production EcsRunLauncher becomes a Fargate task of the run task definition, in the
daemon's subnet and security group, with `dagster api execute_run` for that run as its command (moto's ECS)."""

from __future__ import annotations

from pathlib import Path

import boto3
from dagster._core.launcher import WorkerStatus
from dagster._core.test_utils import in_process_test_workspace
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import deserialize_value

from infra_cdk.sections import control_plane
from tests.control_plane import tiny_location
from tests.control_plane.estate import CLUSTER, RUN_ENVIRONMENT, RUN_FAMILY, EcsEstate, load_instance

BACKFILL_ID = "kqwzrtux"


def launch_tiny_run(home: Path, tags: dict[str, str]):
    """Create a run of tiny_job on the production instance and launch it as the daemon's run queue does."""
    instance = load_instance(home)
    origin = LoadableTargetOrigin(python_file=tiny_location.__file__, attribute="defs")
    with in_process_test_workspace(instance, loadable_target_origin=origin) as workspace:
        (location_name,) = workspace.code_location_names
        location = workspace.get_code_location(location_name)
        (repository,) = location.get_repositories().values()
        remote_job = repository.get_full_job("tiny_job")
        run = instance.create_run_for_job(
            job_def=tiny_location.tiny_job,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            tags=tags,
        )
        instance.launch_run(run.run_id, workspace)
    return instance, instance.get_run_by_id(run.run_id)


def test_a_launched_run_is_a_task_of_the_run_task_definition(production_home: Path, ecs_estate: EcsEstate) -> None:
    ecs = ecs_estate.ecs
    # What the launcher asks ECS for, read at the botocore boundary of the clients it builds.
    run_task_requests: list[dict] = []

    def record(params: dict, **_: object) -> None:
        run_task_requests.append(dict(params))

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    events = boto3.DEFAULT_SESSION.events
    events.register("provide-client-params.ecs.RunTask", record, unique_id="record-run-task")
    definitions_before = ecs.list_task_definitions()["taskDefinitionArns"]
    try:
        instance, run = launch_tiny_run(production_home, {"dagster/backfill": BACKFILL_ID, "team": "not-propagated"})
    finally:
        events.unregister("provide-client-params.ecs.RunTask", unique_id="record-run-task")
    try:
        started = [arn for arn in ecs.list_tasks(cluster=CLUSTER)["taskArns"] if arn != ecs_estate.daemon_task_arn]
        assert len(started) == 1
        (task,) = ecs.describe_tasks(cluster=CLUSTER, tasks=started, include=["TAGS"])["tasks"]

        # The run task definition CDK defines, as is: nothing registered at launch.
        assert task["taskDefinitionArn"] == ecs_estate.run_task_definition_arn
        assert ecs.list_task_definitions()["taskDefinitionArns"] == definitions_before
        assert task["launchType"] == "FARGATE" and task["clusterArn"] == ecs_estate.cluster_arn

        # The command runs exactly this run, against the same instance (the same dagster.yaml and variables).
        (override,) = task["overrides"]["containerOverrides"]
        assert override["name"] == control_plane.RUN_CONTAINER
        assert override["command"][-3:-1] == ["api", "execute_run"]
        args = deserialize_value(override["command"][-1], ExecuteRunArgs)
        assert args.run_id == run.run_id and args.job_origin.job_name == "tiny_job"
        assert args.instance_ref.run_launcher_data.class_name == "EcsRunLauncher"
        assert "env: CW_DAGSTER_RUN_TASK_DEFINITION" in args.instance_ref.run_launcher_data.config_yaml
        assert "DAGSTER_PG_PASSWORD" in args.instance_ref.storage_data.config_yaml  # a reference, never the value

        # Its environment is the task definition's: no override replaces or adds a variable.
        assert "environment" not in override and "secrets" not in override
        (container,) = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"][
            "containerDefinitions"
        ]
        assert {e["name"]: e["value"] for e in container["environment"]} == RUN_ENVIRONMENT
        assert {s["name"] for s in container["secrets"]} == set(control_plane.PG_SECRET_FIELDS)

        # The daemon's network: its subnet and security group, no public IP.
        (request,) = run_task_requests
        assert request["networkConfiguration"] == {
            "awsvpcConfiguration": {
                "subnets": [ecs_estate.subnet_id],
                "assignPublicIp": "DISABLED",
                "securityGroups": [ecs_estate.security_group_id],
            }
        }
        details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
        assert details["subnetId"] == ecs_estate.subnet_id
        (eni,) = ecs_estate.ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])[
            "NetworkInterfaces"
        ]
        assert [g["GroupId"] for g in eni["Groups"]] == [ecs_estate.security_group_id]

        # Tags: the run's id and job, and the allow-listed run tags only.
        tags = {t["key"]: t["value"] for t in task["tags"]}
        assert tags == {"dagster/run_id": run.run_id, "dagster/job_name": "tiny_job", "dagster/backfill": BACKFILL_ID}

        # The run knows its task: run monitoring and termination find it.
        assert run.tags["ecs/task_arn"] == task["taskArn"] and run.tags["ecs/cluster"] == ecs_estate.cluster_arn
        (launched,) = [
            e.dagster_event
            for e in instance.all_logs(run.run_id)
            if e.dagster_event and e.dagster_event.message == "[EcsRunLauncher] Launching run in ECS task"
        ]
        assert launched.engine_event_data.metadata["ECS Task ARN"].value == task["taskArn"]
        health = instance.run_launcher.check_run_worker_health(run)
        assert health.status == WorkerStatus.RUNNING
        assert instance.run_launcher.terminate(run.run_id) is True
        (stopped,) = ecs.describe_tasks(cluster=CLUSTER, tasks=started)["tasks"]
        assert stopped["desiredStatus"] == "STOPPED"
    finally:
        instance.dispose()


def test_each_run_is_its_own_task(production_home: Path, ecs_estate: EcsEstate) -> None:
    first_instance, first = launch_tiny_run(production_home, {})
    second_instance, second = launch_tiny_run(production_home, {})
    try:
        tasks = ecs_estate.ecs.describe_tasks(
            cluster=CLUSTER, tasks=[first.tags["ecs/task_arn"], second.tags["ecs/task_arn"]]
        )["tasks"]
        assert len({t["taskArn"] for t in tasks}) == 2
        run_ids = {
            deserialize_value(t["overrides"]["containerOverrides"][0]["command"][-1], ExecuteRunArgs).run_id
            for t in tasks
        }
        assert run_ids == {first.run_id, second.run_id}
        assert {t["taskDefinitionArn"] for t in tasks} == {ecs_estate.run_task_definition_arn}
        assert RUN_FAMILY in ecs_estate.run_task_definition_arn
    finally:
        first_instance.dispose()
        second_instance.dispose()
