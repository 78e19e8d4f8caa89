"""Constants of the test synthesis and helpers to read synthesized CloudFormation templates."""

from __future__ import annotations

from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ALERT_EMAIL = "ops-team@example.com"
ENVS = ("dev", "qa")
CONTEXT = {"account": ACCOUNT, "region": REGION, "alertEmail": ALERT_EMAIL}


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of every resource of one type."""
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def one(template: dict[str, Any], resource_type: str, **match: Any) -> tuple[str, dict[str, Any]]:
    """The single resource of a type whose properties include ``match``."""
    found = [
        (logical_id, props)
        for logical_id, props in resources(template, resource_type).items()
        if all(props.get(key) == value for key, value in match.items())
    ]
    assert len(found) == 1, f"expected one {resource_type} matching {match}, found {[f[0] for f in found]}"
    return found[0]


def ref(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None
