"""Discovery modes in the template: the aggregator's environment, its grants and endpoints follow the context.

Each mode is synthesized as its own app (dev only, cdk-nag on), since the mode is app context.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cw_pipeline.config import ConfigurationError
from infra_cdk.app import create_app
from infra_cdk.sections import pipeline
from tests.infra.cdk_template import CONTEXT, REGION, one, ref, resources

NAME_LISTS = {"CW_API_NAMES", "CW_FUNCTION_NAMES", "CW_DB_INSTANCE_IDS"}


def synthesize(tmp_path_factory, **context: str) -> tuple[dict[str, Any], dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    create_app({**CONTEXT, **context}, outdir=str(outdir), envs=("dev",)).synth()
    template = json.loads((outdir / "CwAnalytics-dev.template.json").read_text())
    report = json.loads((outdir / "validation-report.json").read_text())
    return template, report


@pytest.fixture(scope="module")
def tags_mode(tmp_path_factory):
    return synthesize(tmp_path_factory, discovery="tags", discoveryTags="team=orders,team=payments,env=prod",
                      discoveryExclude="*-canary")  # fmt: skip


@pytest.fixture(scope="module")
def metrics_mode(tmp_path_factory):
    return synthesize(tmp_path_factory, discovery="metrics")


def aggregator(template: dict) -> dict:
    return one(template, "AWS::Lambda::Function", FunctionName="cw-analytics-dev-aggregator")[1]


def grants(template: dict) -> dict[str, set[str]]:
    """Resource (``*``, a logical id, or an ARN as JSON) -> actions granted to the aggregator's role."""
    role_id = ref(aggregator(template)["Role"])
    granted: dict[str, set[str]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Roles"]:
            continue
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resource = statement["Resource"]
            key = resource if isinstance(resource, str) else (ref(resource) or json.dumps(resource, sort_keys=True))
            granted.setdefault(key, set()).update(actions)
    return granted


def interface_services(template: dict) -> list[str]:
    return [
        e["ServiceName"]
        for e in resources(template, "AWS::EC2::VPCEndpoint").values()
        if e.get("VpcEndpointType") == "Interface"
    ]


def test_tags_mode_environment_names_the_tags_and_no_resource(tags_mode) -> None:
    variables = aggregator(tags_mode[0])["Environment"]["Variables"]
    assert variables["CW_DISCOVERY"] == "tags"
    assert variables["CW_DISCOVERY_TAGS"] == "team=orders,team=payments,env=prod"
    assert variables["CW_EXCLUDE"] == "*-canary"
    assert not NAME_LISTS & set(variables)


def test_tags_mode_grants_get_resources_and_only_the_rest_api_collection(tags_mode) -> None:
    granted = grants(tags_mode[0])
    assert granted["*"] == {"cloudwatch:GetMetricData", "tag:GetResources"}
    apigateway = {resource: actions for resource, actions in granted.items() if "apigateway" in resource}
    # The collection of REST APIs (GetRestApis), not every API and stage below it.
    assert apigateway == {f"arn:aws:apigateway:{REGION}::/restapis": {"apigateway:GET"}}


def test_tags_mode_adds_the_tagging_and_api_gateway_endpoints(tags_mode, dev_json) -> None:
    services = interface_services(tags_mode[0])
    # The endpoints of the names mode (the network's and the control plane's) and the two the tags mode calls.
    base = interface_services(dev_json)
    assert {f"com.amazonaws.{REGION}.{name}" for name in ("monitoring", "sns", "secretsmanager", "kms")} <= set(base)
    assert sorted(services) == sorted(
        [*base, *(f"com.amazonaws.{REGION}.{name}" for name in ("tagging", "apigateway"))]
    )


def test_metrics_mode_grants_list_metrics_and_needs_no_new_endpoint(metrics_mode, dev_json) -> None:
    template, _ = metrics_mode
    variables = aggregator(template)["Environment"]["Variables"]
    assert variables["CW_DISCOVERY"] == "metrics" and not NAME_LISTS & set(variables)
    assert "CW_DISCOVERY_TAGS" not in variables
    granted = grants(template)
    assert granted["*"] == {"cloudwatch:GetMetricData", "cloudwatch:ListMetrics"}
    assert not any("apigateway" in resource for resource in granted)
    assert sorted(interface_services(template)) == sorted(interface_services(dev_json))  # the names mode's


def test_discovery_modes_pass_cdk_nag(tags_mode, metrics_mode) -> None:
    for _, report in (tags_mode, metrics_mode):
        open_findings = [v["ruleName"] for p in report["pluginReports"] for v in p["violations"]]
        assert open_findings == []


def test_default_names_mode_grants_no_discovery_call(dev_json) -> None:
    assert grants(dev_json)["*"] == set(pipeline.CLOUDWATCH_ACTIONS) == {"cloudwatch:GetMetricData"}
    assert aggregator(dev_json)["Environment"]["Variables"]["CW_DISCOVERY"] == "names"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"discovery": "everything"}, "CW_DISCOVERY='everything' is not a discovery mode"),
        ({"discovery": "tags"}, "CW_DISCOVERY=tags needs CW_DISCOVERY_TAGS"),
        ({"discovery": "tags", "discoveryTags": "team"}, "'team' is not key=value"),
        ({"discovery": "metrics", "discoveryTags": "team=orders"}, "only read with CW_DISCOVERY=tags"),
    ],
)
def test_bad_discovery_context_fails_the_synth_with_the_pipeline_message(tmp_path, context, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        create_app({**CONTEXT, **context}, outdir=str(tmp_path), envs=("dev",))
