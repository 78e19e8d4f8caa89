"""Dagster control plane: the way into the UI (internal ALB, or Cognito behind HTTPS), endpoints, alarms, dashboard."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cw_pipeline import telemetry
from infra_cdk.app import create_app
from infra_cdk.context import InfraContext
from infra_cdk.sections.network import VPC_CIDR
from tests.infra.cdk_template import CONTEXT, one, ref, resources

UI_DOMAIN = "dagster.ops.example.com"
UI_CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def _ingress(template: dict, group_id: str) -> list[dict]:
    inline = template["Resources"][group_id]["Properties"].get("SecurityGroupIngress", [])
    return inline + [
        p for p in resources(template, "AWS::EC2::SecurityGroupIngress").values() if ref(p["GroupId"]) == group_id
    ]


def _group(template: dict, name: str) -> str:
    return one(template, "AWS::EC2::SecurityGroup", GroupName=name)[0]


def _subnets(template: dict, kind: str) -> set[str]:
    return {
        logical_id
        for logical_id, subnet in resources(template, "AWS::EC2::Subnet").items()
        if {"Key": "aws-cdk:subnet-type", "Value": kind} in subnet["Tags"]
    }


def test_by_default_the_ui_is_an_internal_alb_reachable_from_the_vpc_only(dev_json: dict) -> None:
    _, alb = one(dev_json, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert alb["Name"] == "cw-analytics-dev-ui" and alb["Scheme"] == "internal"
    assert {ref(s) for s in alb["Subnets"]} == _subnets(dev_json, "Isolated")
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    # The control plane's own log bucket (the stack has others: the SLO reports and their access logs).
    logs_bucket = ref(attributes["access_logs.s3.bucket"])
    assert logs_bucket in resources(dev_json, "AWS::S3::Bucket") and logs_bucket.startswith("ControlPlaneAccess")
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    (alb_group,) = [ref(g) for g in alb["SecurityGroups"]]
    assert [(r["CidrIp"], r["FromPort"]) for r in _ingress(dev_json, alb_group)] == [(VPC_CIDR, 80)]
    (listener,) = resources(dev_json, "AWS::ElasticLoadBalancingV2::Listener").values()
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    (action,) = listener["DefaultActions"]
    target_id, target = one(dev_json, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert action["Type"] == "forward" and ref(action["TargetGroupArn"]) == target_id
    assert (target["Port"], target["TargetType"], target["HealthCheckPath"]) == (3000, "ip", "/server_info")
    assert not resources(dev_json, "AWS::Cognito::UserPool")


def test_only_the_load_balancer_reaches_the_webserver_and_nothing_reaches_the_daemon(dev_json: dict) -> None:
    _, alb = one(dev_json, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    (alb_group,) = [ref(g) for g in alb["SecurityGroups"]]
    webserver_rules = _ingress(dev_json, _group(dev_json, "cw-analytics-dev-dagster-webserver-sg"))
    assert [(ref(r["SourceSecurityGroupId"]), r["FromPort"], r["ToPort"]) for r in webserver_rules] == [
        (alb_group, 3000, 3000)
    ]
    assert _ingress(dev_json, _group(dev_json, "cw-analytics-dev-dagster-daemon-sg")) == []


def test_every_endpoint_the_tasks_need_without_nat_is_there_once_behind_the_endpoint_group(dev_json: dict) -> None:
    endpoint_group = _group(dev_json, "cw-analytics-dev-endpoints-sg")
    endpoints = list(resources(dev_json, "AWS::EC2::VPCEndpoint").values())
    interface = [json.dumps(e["ServiceName"]) for e in endpoints if e["VpcEndpointType"] == "Interface"]
    for service in ("ecr.api", "ecr.dkr", "logs", "ecs", "secretsmanager", "kms", "ec2", "ssmmessages"):
        assert sum(f".{service}" + '"' in name for name in interface) == 1, (service, interface)
    assert len(interface) == 10  # those eight, and CloudWatch and SNS for the Lambdas
    for endpoint in endpoints:
        if endpoint["VpcEndpointType"] == "Interface":
            assert [ref(g) for g in endpoint["SecurityGroupIds"]] == [endpoint_group]
    gateways = [json.dumps(e["ServiceName"]) for e in endpoints if e["VpcEndpointType"] == "Gateway"]
    assert sum('.s3"' in name for name in gateways) == 1
    assert not resources(dev_json, "AWS::EC2::NatGateway")


def test_an_alarm_fires_when_the_webserver_or_the_daemon_has_no_running_task(dev_json: dict) -> None:
    topic_id, _ = one(dev_json, "AWS::SNS::Topic")
    for role in ("webserver", "daemon"):
        _, alarm = one(dev_json, "AWS::CloudWatch::Alarm", AlarmName=f"cw-analytics-dev-alarm-dagster-{role}-down")
        assert (alarm["Namespace"], alarm["MetricName"]) == ("ECS/ContainerInsights", "RunningTaskCount")
        assert alarm["Dimensions"] == [
            {"Name": "ClusterName", "Value": "cw-analytics-dev-dagster"},
            {"Name": "ServiceName", "Value": f"cw-analytics-dev-dagster-{role}"},
        ]
        one(dev_json, "AWS::ECS::Service", ServiceName=f"cw-analytics-dev-dagster-{role}")
        assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
        assert alarm["TreatMissingData"] == "breaching"  # a service with no task reports nothing
        assert [ref(a) for a in alarm["AlarmActions"]] == [topic_id] == [ref(a) for a in alarm["OKActions"]]


def test_the_dashboard_graphs_run_failures_by_launcher_and_the_services(dev_json: dict) -> None:
    _, dashboard = one(dev_json, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"]).replace('\\"', '"')
    for launcher in ("lambda", "ecs"):
        for metric in ("RunFailed", "RunSucceeded"):
            assert f'["cw-analytics/Pipeline","{metric}","Environment","dev","Launcher","{launcher}"' in body
    assert telemetry.NAMESPACE == "cw-analytics/Pipeline" and telemetry.LAUNCHERS == ("lambda", "ecs")
    assert '"ECS/ContainerInsights","RunningTaskCount","ClusterName","cw-analytics-dev-dagster"' in body
    for role in ("webserver", "daemon"):  # both service alarms in the dashboard's alarm status widget
        alarm_id, _ = one(dev_json, "AWS::CloudWatch::Alarm", AlarmName=f"cw-analytics-dev-alarm-dagster-{role}-down")
        assert json.dumps({"Fn::GetAtt": [alarm_id, "Arn"]}) in json.dumps(dashboard["DashboardBody"])


def test_run_metric_dimensions_refuse_an_unknown_launcher() -> None:
    assert telemetry.run_dimensions("qa", "ecs") == {"Environment": "qa", "Launcher": "ecs"}
    with pytest.raises(ValueError, match="launcher 'batch' is not one of lambda, ecs"):
        telemetry.run_dimensions("qa", "batch")


def test_public_ui_context_needs_a_domain_and_a_certificate_together() -> None:
    base = {"account": "123456789012", "region": "eu-west-1"}
    with pytest.raises(ValueError, match="go together"):
        InfraContext.from_context({**base, "dagsterUiDomain": UI_DOMAIN})
    with pytest.raises(ValueError, match="not an ACM certificate ARN"):
        InfraContext.from_context({**base, "dagsterUiDomain": UI_DOMAIN, "dagsterUiCertificateArn": "cert-1"})
    with pytest.raises(ValueError, match="not a lower-case host name"):
        InfraContext.from_context({**base, "dagsterUiDomain": "Dagster UI", "dagsterUiCertificateArn": UI_CERTIFICATE})
    ctx = InfraContext.from_context({**base, "dagsterUiDomain": UI_DOMAIN, "dagsterUiCertificateArn": UI_CERTIFICATE})
    assert ctx.public_ui and ctx.ui_domain == UI_DOMAIN
    assert not InfraContext.from_context(base).public_ui


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, Path]:
    """A qa stack whose context names the UI's domain and certificate: template, cdk-nag report, its path."""
    outdir = tmp_path_factory.mktemp("cdk.out.public")
    context = {**CONTEXT, "dagsterUiDomain": UI_DOMAIN, "dagsterUiCertificateArn": UI_CERTIFICATE}
    create_app(context, outdir=str(outdir), envs=("qa",)).synth()
    path = outdir / "CwAnalytics-qa.template.json"
    return json.loads(path.read_text()), json.loads((outdir / "validation-report.json").read_text()), path


def test_with_a_domain_the_ui_is_https_on_the_internet_behind_cognito_sign_in(public) -> None:
    template, _, _ = public
    _, alb = one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert alb["Scheme"] == "internet-facing" and {ref(s) for s in alb["Subnets"]} == _subnets(template, "Public")
    listeners = {x["Port"]: x for x in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()}
    assert set(listeners) == {80, 443}
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    https = listeners[443]
    assert https["Protocol"] == "HTTPS" and https["Certificates"] == [{"CertificateArn": UI_CERTIFICATE}]
    authenticate, forward = sorted(https["DefaultActions"], key=lambda a: a["Order"])
    pool_id, pool = one(template, "AWS::Cognito::UserPool")
    assert authenticate["Type"] == "authenticate-cognito"
    assert authenticate["AuthenticateCognitoConfig"]["UserPoolArn"] == {"Fn::GetAtt": [pool_id, "Arn"]}
    assert (
        forward["Type"] == "forward"
        and ref(forward["TargetGroupArn"]) == one(template, "AWS::ElasticLoadBalancingV2::TargetGroup")[0]
    )
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON" and pool["UserPoolAddOns"]["AdvancedSecurityMode"] == "ENFORCED"
    _, client = one(template, "AWS::Cognito::UserPoolClient")
    assert client["CallbackURLs"] == [f"https://{UI_DOMAIN}/oauth2/idpresponse"] and client["GenerateSecret"] is True
    (alb_group,) = [ref(g) for g in alb["SecurityGroups"]]
    assert sorted((r["CidrIp"], r["FromPort"]) for r in _ingress(template, alb_group)) == [
        ("0.0.0.0/0", 80),
        ("0.0.0.0/0", 443),
    ]
    webserver_rules = _ingress(template, _group(template, "cw-analytics-qa-dagster-webserver-sg"))
    assert [ref(r["SourceSecurityGroupId"]) for r in webserver_rules] == [alb_group]
    assert template["Outputs"]["DagsterUiUrl"]["Value"] == f"https://{UI_DOMAIN}"


def test_the_public_variant_is_nag_and_lint_clean(public) -> None:
    _, report, path = public
    violations = [v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]]
    assert violations == [], violations
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", "--non-zero-exit-code", "error", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
