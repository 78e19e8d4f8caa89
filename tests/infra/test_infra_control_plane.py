"""Dagster control plane: its instance database and secret, the aggregator's access, the ECS tasks and their roles."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from cw_pipeline.runtime import instance as instances
from infra_cdk import packaging
from infra_cdk.sections import control_plane, pipeline
from tests.infra.cdk_template import one, ref, resources

DAGSTER_YAML = Path(packaging.REPO_ROOT, "cw_pipeline", "runtime", "dagster.yaml")
FAMILIES = {"webserver": "dagster-webserver", "daemon": "dagster-daemon", "run": "dagster-run"}


def _dagster_db(template: dict, env: str = "dev") -> tuple[str, dict]:
    return one(template, "AWS::RDS::DBInstance", DBInstanceIdentifier=f"cw-analytics-{env}-dagster-db")


def _attachment(template: dict, env: str = "dev") -> str:
    db_id, _ = _dagster_db(template, env)
    return one(template, "AWS::SecretsManager::SecretTargetAttachment", TargetId={"Ref": db_id})[0]


def _ingress(template: dict, group_id: str) -> list[dict]:
    inline = template["Resources"][group_id]["Properties"].get("SecurityGroupIngress", [])
    return inline + [
        p for p in resources(template, "AWS::EC2::SecurityGroupIngress").values() if ref(p["GroupId"]) == group_id
    ]


def _group(template: dict, name: str) -> str:
    return one(template, "AWS::EC2::SecurityGroup", GroupName=name)[0]


def _container(template: dict, kind: str, env: str = "dev") -> dict:
    _, task = one(template, "AWS::ECS::TaskDefinition", Family=f"cw-analytics-{env}-{FAMILIES[kind]}")
    (container,) = task["ContainerDefinitions"]
    return container


def _statements(template: dict, role_name: str) -> list[dict]:
    role_id, _ = one(template, "AWS::IAM::Role", RoleName=role_name)
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> set[str]:
    action = statement["Action"]
    return set(action) if isinstance(action, list) else {action}


def test_two_postgres_instances_the_dagster_one_small_private_encrypted(dev_json: dict, qa_json: dict) -> None:
    assert len(resources(dev_json, "AWS::RDS::DBInstance")) == 2  # the monitored database and Dagster's own
    key_id, _ = one(dev_json, "AWS::KMS::Key")
    _, db = _dagster_db(dev_json)
    assert db["Engine"] == "postgres" and db["DBInstanceClass"] == "db.t4g.small"
    assert db["StorageEncrypted"] is True and ref(db["KmsKeyId"]) == key_id
    assert db["PubliclyAccessible"] is False and db["DBName"] == "dagster"
    assert db["BackupRetentionPeriod"] >= 7
    assert db["MultiAZ"] is False and db["DeletionProtection"] is False  # dev only (acknowledged RDS3/RDS10)
    _, qa_db = _dagster_db(qa_json, "qa")
    assert qa_db["MultiAZ"] is True and qa_db["DeletionProtection"] is True
    _, subnets = one(dev_json, "AWS::RDS::DBSubnetGroup", DBSubnetGroupName="cw-analytics-dev-dagster-db-subnets")
    _, monitored = one(dev_json, "AWS::RDS::DBSubnetGroup", DBSubnetGroupName="cw-analytics-dev-db-subnets")
    assert subnets["SubnetIds"] == monitored["SubnetIds"]  # the same private subnets
    _, params = one(dev_json, "AWS::RDS::DBParameterGroup", DBParameterGroupName="cw-analytics-dev-dagster-db-params")
    assert params["Parameters"]["rds.force_ssl"] == "1"


def test_the_dagster_credentials_are_their_own_encrypted_secret_in_the_rds_shape(dev_json: dict) -> None:
    key_id, _ = one(dev_json, "AWS::KMS::Key")
    secret_id, secret = one(dev_json, "AWS::SecretsManager::Secret", Name="cw-analytics-dev-dagster-db-credentials")
    assert ref(secret["KmsKeyId"]) == key_id
    generated = secret["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"]) == {"username": "dagster", "dbname": "dagster"}
    assert generated["GenerateStringKey"] == "password"
    _, db = _dagster_db(dev_json)
    assert secret_id in json.dumps(db["MasterUserPassword"]) and db["MasterUsername"] == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:username::}}"]]
    }
    attachment = dev_json["Resources"][_attachment(dev_json)]["Properties"]
    assert ref(attachment["SecretId"]) == secret_id and attachment["TargetType"] == "AWS::RDS::DBInstance"
    # Not rotated automatically (acknowledged SMG4): the only rotation schedule is the monitored database's.
    (rotation,) = resources(dev_json, "AWS::SecretsManager::RotationSchedule").values()
    assert ref(rotation["SecretId"]) != secret_id


def test_the_aggregator_gets_the_secret_arn_read_access_and_a_path_to_the_database(dev_json: dict) -> None:
    assert control_plane.PG_SECRET_ARN_VARIABLE == instances.PG_SECRET_VARIABLE  # what cw_pipeline reads
    _, function = one(dev_json, "AWS::Lambda::Function", FunctionName="cw-analytics-dev-aggregator")
    attachment_id = _attachment(dev_json)
    assert function["Environment"]["Variables"][instances.PG_SECRET_VARIABLE] == {"Ref": attachment_id}
    statements = _statements(dev_json, "cw-analytics-dev-aggregator-role")
    secret_statements = [s for s in statements if any(a.startswith("secretsmanager:") for a in _actions(s))]
    assert [(_actions(s), s["Resource"]) for s in secret_statements] == [
        ({"secretsmanager:GetSecretValue"}, {"Ref": attachment_id})
    ]
    key_id, _ = one(dev_json, "AWS::KMS::Key")  # the secret is encrypted with the key the role may decrypt with
    assert any(ref(s["Resource"]) == key_id and "kms:Decrypt" in _actions(s) for s in statements)
    assert "kms:Decrypt" in pipeline.KEY_ACTIONS


def test_only_the_dagster_tasks_and_the_aggregator_reach_the_dagster_database(dev_json: dict) -> None:
    _, db = _dagster_db(dev_json)
    (db_group,) = [ref(g) for g in db["VPCSecurityGroups"]]
    assert db_group == _group(dev_json, "cw-analytics-dev-dagster-db-sg")
    rules = _ingress(dev_json, db_group)
    assert all("CidrIp" not in rule and rule["FromPort"] == rule["ToPort"] == 5432 for rule in rules)
    assert {ref(rule["SourceSecurityGroupId"]) for rule in rules} == {
        _group(dev_json, f"cw-analytics-dev-{name}-sg")
        for name in ("aggregator", "dagster-webserver", "dagster-daemon")
    }
    # The monitored database stays out of reach of every Dagster process.
    _, monitored = one(dev_json, "AWS::RDS::DBInstance", DBInstanceIdentifier="cw-analytics-dev-db")
    (monitored_group,) = [ref(g) for g in monitored["VPCSecurityGroups"]]
    sources = {ref(r.get("SourceSecurityGroupId")) for r in _ingress(dev_json, monitored_group)}
    assert not sources & {_group(dev_json, f"cw-analytics-dev-dagster-{n}-sg") for n in ("webserver", "daemon")}


def test_one_cluster_with_container_insights_and_encrypted_exec_sessions(dev_json: dict) -> None:
    _, cluster = one(dev_json, "AWS::ECS::Cluster")
    key_id, _ = one(dev_json, "AWS::KMS::Key")
    assert cluster["ClusterName"] == "cw-analytics-dev-dagster"
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]
    exec_config = cluster["Configuration"]["ExecuteCommandConfiguration"]
    assert ref(exec_config["KmsKeyId"]) == key_id
    assert exec_config["LogConfiguration"]["CloudWatchEncryptionEnabled"] is True
    exec_group = dev_json["Resources"][ref(exec_config["LogConfiguration"]["CloudWatchLogGroupName"])]["Properties"]
    assert exec_group["LogGroupName"] == "/ecs/cw-analytics-dev-dagster/exec"


def test_three_task_definitions_share_one_image_and_run_what_each_role_needs(dev_json: dict) -> None:
    tasks = resources(dev_json, "AWS::ECS::TaskDefinition")
    assert sorted(t["Family"] for t in tasks.values()) == sorted(f"cw-analytics-dev-{f}" for f in FAMILIES.values())
    containers = {kind: _container(dev_json, kind) for kind in FAMILIES}
    assert len({json.dumps(c["Image"]) for c in containers.values()}) == 1
    assert containers["webserver"]["Command"] == [
        "dagster-webserver",
        "--host",
        "0.0.0.0",
        "--port",
        "3000",
        "--workspace",
        "/opt/dagster/app/workspace.yaml",
    ]
    assert containers["webserver"]["PortMappings"][0]["ContainerPort"] == 3000
    assert containers["daemon"]["Command"] == [
        "dagster-daemon",
        "run",
        "--workspace",
        "/opt/dagster/app/workspace.yaml",
    ]
    assert containers["run"]["Name"] == "run"  # dagster.yaml's container_name; the launcher sets its command
    assert containers["webserver"]["HealthCheck"]["Command"][-1].endswith(
        "urlopen('http://127.0.0.1:3000/server_info', timeout=5)"
    )
    assert containers["daemon"]["HealthCheck"]["Command"] == ["CMD", "dagster-daemon", "liveness-check"]
    for kind, task in (
        (k, one(dev_json, "AWS::ECS::TaskDefinition", Family=f"cw-analytics-dev-{f}")[1]) for k, f in FAMILIES.items()
    ):
        assert task["RequiresCompatibilities"] == ["FARGATE"] and task["NetworkMode"] == "awsvpc", kind
        log = containers[kind]["LogConfiguration"]
        group = dev_json["Resources"][ref(log["Options"]["awslogs-group"])]["Properties"]
        assert log["LogDriver"] == "awslogs" and group["LogGroupName"] == f"/ecs/cw-analytics-dev-dagster/{kind}"
        assert group["RetentionInDays"] == 30 and ref(group["KmsKeyId"]) == one(dev_json, "AWS::KMS::Key")[0]


def test_containers_get_the_database_from_the_secret_and_the_pipeline_settings(dev_json: dict) -> None:
    attachment_id = _attachment(dev_json)
    fields = {"DAGSTER_PG_HOST": "host", "DAGSTER_PG_PORT": "port", "DAGSTER_PG_DB": "dbname"}
    fields |= {"DAGSTER_PG_USERNAME": "username", "DAGSTER_PG_PASSWORD": "password"}
    _, aggregator = one(dev_json, "AWS::Lambda::Function", FunctionName="cw-analytics-dev-aggregator")
    settings = {k: v for k, v in aggregator["Environment"]["Variables"].items() if k.startswith("CW_")}
    settings.pop(instances.PG_SECRET_VARIABLE)
    run_task_id, _ = one(dev_json, "AWS::ECS::TaskDefinition", Family="cw-analytics-dev-dagster-run")
    for kind in FAMILIES:
        container = _container(dev_json, kind)
        secrets = {s["Name"]: s["ValueFrom"] for s in container["Secrets"]}
        assert secrets == {
            name: {"Fn::Join": ["", [{"Ref": attachment_id}, f":{field}::"]]} for name, field in fields.items()
        }
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert not any("PASSWORD" in name for name in environment)
        assert environment["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
        for name, value in settings.items():  # the same pipeline settings as the Lambda
            assert environment[name] == value, (kind, name)
        expected_run = "cw-analytics-dev-dagster-run" if kind == "run" else {"Ref": run_task_id}
        assert environment["CW_DAGSTER_RUN_TASK_DEFINITION"] == expected_run


def test_run_tasks_batch_their_events_and_the_daemon_plans_a_backfill_once_per_asset(dev_json: dict) -> None:
    """The run task writes the materializations of UI-launched runs; the daemon creates the backfills' runs (Dagster
    logs planned events then). The webserver's own runs keep a plan per window, and so their failed windows."""
    environments = {
        kind: {e["Name"]: e["Value"] for e in _container(dev_json, kind)["Environment"]} for kind in FAMILIES
    }
    batched = {kind for kind, env in environments.items() if instances.EVENT_BATCH_SIZE_VARIABLE in env}
    assert batched == {"run"} and environments["run"][instances.EVENT_BATCH_SIZE_VARIABLE] == instances.EVENT_BATCH_SIZE
    planned_once = {kind: env.get(instances.SUBSET_PLANNED_VARIABLE) for kind, env in environments.items()}
    assert planned_once == {"webserver": None, "daemon": "1", "run": None}


def _env_names(node: object) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*(_env_names(v) for v in node.values())) if node else set()
    return set()


def test_every_variable_the_production_dagster_yaml_reads_is_given_to_every_task(dev_json: dict) -> None:
    wanted = _env_names(yaml.safe_load(DAGSTER_YAML.read_text()))
    assert wanted == {*control_plane.PG_SECRET_FIELDS, control_plane.RUN_TASK_DEFINITION_VARIABLE}
    for kind in FAMILIES:
        container = _container(dev_json, kind)
        given = {e["Name"] for e in container["Environment"]} | {s["Name"] for s in container["Secrets"]}
        assert wanted <= given, (kind, wanted - given)


def test_the_control_plane_image_is_built_from_its_dockerfile_with_the_instance_yaml(synthesis) -> None:
    manifest = json.loads((synthesis.outdir / "CwAnalytics-dev.assets.json").read_text())
    sources = [image["source"] for image in manifest["dockerImages"].values()]
    (source,) = [s for s in sources if s.get("dockerFile") == packaging.CONTROL_PLANE_DOCKERFILE]
    staged = synthesis.outdir / source["directory"]
    assert (staged / "cw_pipeline" / "runtime" / "dagster.yaml").read_text() == DAGSTER_YAML.read_text()
    assert (staged / "workspace.yaml").exists()
    assert not {p.name for p in staged.iterdir()} & {".venv", ".tools", "cdk.out", "node_modules", ".git", "tests"}
    dockerfile = (staged / packaging.CONTROL_PLANE_DOCKERFILE).read_text()
    assert "--extra control-plane" in dockerfile and "--require-hashes" in dockerfile
    assert "dagster.yaml ${DAGSTER_HOME}/dagster.yaml" in dockerfile


def test_services_run_one_webserver_and_exactly_one_daemon_in_the_private_subnets(dev_json: dict) -> None:
    services = {s["ServiceName"]: s for s in resources(dev_json, "AWS::ECS::Service").values()}
    assert set(services) == {"cw-analytics-dev-dagster-webserver", "cw-analytics-dev-dagster-daemon"}
    private = sorted(
        json.dumps(s)
        for s in one(dev_json, "AWS::RDS::DBSubnetGroup", DBSubnetGroupName="cw-analytics-dev-db-subnets")[1][
            "SubnetIds"
        ]
    )
    for service in services.values():
        network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED" and sorted(json.dumps(s) for s in network["Subnets"]) == private
        assert service["DesiredCount"] == 1 and service["LaunchType"] == "FARGATE"
        assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    webserver, daemon = services["cw-analytics-dev-dagster-webserver"], services["cw-analytics-dev-dagster-daemon"]
    assert webserver["EnableExecuteCommand"] is True and daemon["EnableExecuteCommand"] is False
    assert daemon["DeploymentConfiguration"]["MaximumPercent"] == 100  # never two daemons at once
    assert daemon["DeploymentConfiguration"]["MinimumHealthyPercent"] == 0
    (target,) = webserver["LoadBalancers"]
    assert (target["ContainerName"], target["ContainerPort"]) == ("webserver", 3000)
    assert ref(daemon["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"][0]) == _group(
        dev_json, "cw-analytics-dev-dagster-daemon-sg"
    )


def test_the_daemon_may_launch_only_run_tasks_and_pass_only_their_roles(dev_json: dict) -> None:
    daemon = _statements(dev_json, "cw-analytics-dev-dagster-daemon-role")
    by_sid = {s["Sid"]: s for s in daemon if "Sid" in s}
    launch = by_sid["LaunchRuns"]
    assert _actions(launch) == {"ecs:RunTask"}
    assert launch["Resource"] == "arn:aws:ecs:eu-west-1:123456789012:task-definition/cw-analytics-dev-dagster-run:*"
    cluster_id, _ = one(dev_json, "AWS::ECS::Cluster")
    assert launch["Condition"] == {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": [cluster_id, "Arn"]}}}
    assert by_sid["TagRunsAtLaunch"]["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
    passed = {ref(r) for r in by_sid["PassRunRoles"]["Resource"]}
    assert passed == {
        one(dev_json, "AWS::IAM::Role", RoleName=f"cw-analytics-dev-dagster-{n}-role")[0] for n in ("run", "execution")
    }
    tasks = "arn:aws:ecs:eu-west-1:123456789012:task/cw-analytics-dev-dagster/*"
    assert by_sid["TerminateRuns"]["Resource"] == tasks
    assert _actions(by_sid["FindOwnNetwork"]) == {"ec2:DescribeNetworkInterfaces"}
    webserver = _statements(dev_json, "cw-analytics-dev-dagster-webserver-role")
    assert not any(_actions(s) & {"ecs:RunTask", "iam:PassRole"} for s in webserver)


def test_a_run_task_may_do_what_the_aggregator_does_and_nothing_else(dev_json: dict) -> None:
    def grants(role_name: str) -> set[tuple[str, str]]:
        return {
            (action, json.dumps(s["Resource"], sort_keys=True))
            for s in _statements(dev_json, role_name)
            for action in _actions(s)
        }

    aggregator = grants("cw-analytics-dev-aggregator-role")
    run = grants("cw-analytics-dev-dagster-run-role")
    assert run and run <= aggregator
    # The Lambda alone reads the secret (ECS injects it into the tasks) and dead-letters failed invocations.
    assert {a for a, _ in aggregator - run} == {"secretsmanager:GetSecretValue", "sqs:SendMessage"}
    assert {a for a, _ in run} >= set(pipeline.CLOUDWATCH_ACTIONS) | set(pipeline.TABLE_ACTIONS) | {"sns:Publish"}
