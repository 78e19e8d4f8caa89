"""Network: VPC over two AZs, public + private subnets, no internet path to the private ones, endpoints, flow logs."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from infra_cdk.sections.network import VPC_CIDR
from tests.infra.cdk_template import one, ref, resources


def _subnets(template: dict, public: bool) -> dict[str, dict]:
    return {
        k: p
        for k, p in resources(template, "AWS::EC2::Subnet").items()
        if p["MapPublicIpOnLaunch"] is False
        and (
            any(
                t["Key"] == "aws-cdk:subnet-type" and t["Value"] == ("Public" if public else "Isolated")
                for t in p["Tags"]
            )
        )
    }


def test_vpc_spans_two_azs_with_public_and_private_subnets(dev: Template, dev_json: dict) -> None:
    dev.resource_count_is("AWS::EC2::VPC", 1)
    dev.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": VPC_CIDR})
    public, private = _subnets(dev_json, public=True), _subnets(dev_json, public=False)
    assert len(public) == 2 and len(private) == 2
    for subnets in (public, private):
        zones = [p["AvailabilityZone"] for p in subnets.values()]
        assert zones == [{"Fn::Select": [0, {"Fn::GetAZs": ""}]}, {"Fn::Select": [1, {"Fn::GetAZs": ""}]}]


def test_public_subnets_route_to_an_internet_gateway_and_private_ones_nowhere(dev: Template, dev_json: dict) -> None:
    dev.resource_count_is("AWS::EC2::InternetGateway", 1)
    dev.resource_count_is("AWS::EC2::NatGateway", 0)
    routes = resources(dev_json, "AWS::EC2::Route")
    assert len(routes) == 2
    assert all(r["DestinationCidrBlock"] == "0.0.0.0/0" and "GatewayId" in r for r in routes.values())
    private_tables = {
        ref(assoc["RouteTableId"])
        for assoc in resources(dev_json, "AWS::EC2::SubnetRouteTableAssociation").values()
        if ref(assoc["SubnetId"]) in _subnets(dev_json, public=False)
    }
    assert private_tables and not {ref(r["RouteTableId"]) for r in routes.values()} & private_tables


def test_endpoints_reach_cloudwatch_dynamodb_sns_secrets_manager_and_kms(dev_json: dict) -> None:
    endpoints = resources(dev_json, "AWS::EC2::VPCEndpoint").values()
    gateway = sorted(str(e["ServiceName"]) for e in endpoints if e.get("VpcEndpointType") == "Gateway")
    assert len(gateway) == 2 and "dynamodb" in gateway[0] and ".s3" in gateway[1]
    interface = [str(e["ServiceName"]) for e in endpoints if e.get("VpcEndpointType") == "Interface"]
    for service in ("monitoring", "sns", "secretsmanager", "kms"):
        assert any(f".{service}" in name for name in interface), (service, interface)
    private = set(_subnets(dev_json, public=False))
    for endpoint in endpoints:
        if endpoint.get("VpcEndpointType") == "Interface":
            assert endpoint["PrivateDnsEnabled"] is True
            assert {ref(s) for s in endpoint["SubnetIds"]} == private


def test_vpc_flow_logs_go_to_an_explicit_log_group(dev: Template, dev_json: dict) -> None:
    _, flow_log = one(dev_json, "AWS::EC2::FlowLog")
    assert flow_log["TrafficType"] == "ALL" and flow_log["LogDestinationType"] == "cloud-watch-logs"
    group = dev_json["Resources"][ref(flow_log["LogGroupName"])]
    assert group["Type"] == "AWS::Logs::LogGroup"


def test_rds_and_both_lambdas_are_in_the_private_subnets(dev_json: dict) -> None:
    private = set(_subnets(dev_json, public=False))
    functions = resources(dev_json, "AWS::Lambda::Function")
    assert len(functions) == 2
    for function in functions.values():
        assert {ref(s) for s in function["VpcConfig"]["SubnetIds"]} == private
    _, subnet_group = one(dev_json, "AWS::RDS::DBSubnetGroup", DBSubnetGroupName="cw-analytics-dev-db-subnets")
    assert {ref(s) for s in subnet_group["SubnetIds"]} == private
    _, instance = one(dev_json, "AWS::RDS::DBInstance", DBInstanceIdentifier="cw-analytics-dev-db")
    assert instance["PubliclyAccessible"] is False
    _, proxy = one(dev_json, "AWS::RDS::DBProxy")
    assert {ref(s) for s in proxy["VpcSubnetIds"]} == private


def _ingress(template: dict, group_id: str) -> list[dict]:
    inline = template["Resources"][group_id]["Properties"].get("SecurityGroupIngress", [])
    separate = [
        p for p in resources(template, "AWS::EC2::SecurityGroupIngress").values() if ref(p["GroupId"]) == group_id
    ]
    return inline + separate


def test_only_the_api_lambda_reaches_the_database_port(dev_json: dict) -> None:
    _, instance = one(dev_json, "AWS::RDS::DBInstance", DBInstanceIdentifier="cw-analytics-dev-db")
    (db_group,) = [ref(g) for g in instance["VPCSecurityGroups"]]
    _, proxy = one(dev_json, "AWS::RDS::DBProxy")
    (proxy_group,) = [ref(g) for g in proxy["VpcSecurityGroupIds"]]
    _, api_function = one(dev_json, "AWS::Lambda::Function", FunctionName="cw-analytics-dev-api-handler")
    (api_group,) = [ref(g) for g in api_function["VpcConfig"]["SecurityGroupIds"]]
    _, rotation = one(dev_json, "AWS::SecretsManager::RotationSchedule")
    rotation_group = ref(rotation["HostedRotationLambda"]["VpcSecurityGroupIds"])

    # The database admits only the proxy (and the credential-rotation function), never a CIDR.
    db_sources = {ref(rule.get("SourceSecurityGroupId")) for rule in _ingress(dev_json, db_group)}
    assert db_sources == {proxy_group, rotation_group}
    assert all("CidrIp" not in rule for rule in _ingress(dev_json, db_group))
    # The proxy admits only the API Lambda, on 5432.
    proxy_rules = _ingress(dev_json, proxy_group)
    assert [(ref(r["SourceSecurityGroupId"]), r["FromPort"], r["ToPort"]) for r in proxy_rules] == [
        (api_group, 5432, 5432)
    ]
    # The aggregator has no path to the database at all.
    _, aggregator = one(dev_json, "AWS::Lambda::Function", FunctionName="cw-analytics-dev-aggregator")
    (aggregator_group,) = [ref(g) for g in aggregator["VpcConfig"]["SecurityGroupIds"]]
    assert aggregator_group not in db_sources | {r["SourceSecurityGroupId"]["Fn::GetAtt"][0] for r in proxy_rules}


def test_lambda_security_groups_have_no_ingress_and_restricted_egress(dev: Template, dev_json: dict) -> None:
    for name in ("cw-analytics-dev-api-handler-sg", "cw-analytics-dev-aggregator-sg"):
        group_id, group = one(dev_json, "AWS::EC2::SecurityGroup", GroupName=name)
        assert _ingress(dev_json, group_id) == []
        egress = group.get("SecurityGroupEgress", [])
        assert egress and all(rule["IpProtocol"] == "tcp" for rule in egress)
        assert all(rule.get("CidrIp") != "0.0.0.0/0" or rule["FromPort"] == 443 for rule in egress)
    dev.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupName": "cw-analytics-dev-endpoints-sg",
            "SecurityGroupIngress": [Match.object_like({"CidrIp": VPC_CIDR, "FromPort": 443})],
        },
    )
