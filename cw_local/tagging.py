"""API Gateway REST APIs in the emulator's Resource Groups Tagging API.

AWS's ``GetResources`` returns tagged REST APIs as ``arn:aws:apigateway:{region}::/restapis/{api-id}``
with resource type ``apigateway:restapis``; moto 5.2's tagging backend does not know API Gateway, so
``CW_DISCOVERY=tags`` would find no API there. `install()` makes it yield every tagged REST API of the
account and region after moto's own resources, with moto's tag and resource-type filter semantics.
Idempotent; effective for ``mock_aws`` and for a moto server in the same process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moto.apigateway.models import apigateway_backends
from moto.core.resource_tagging import TaggedResource, make_tag_matcher, match_resource_type
from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
from moto.utilities.utils import get_partition

REST_API_RESOURCE_TYPE = "apigateway:restapis"
_MARKER = "_cw_local_rest_apis_tagged"
_original = ResourceGroupsTaggingAPIBackend._get_resources_generator


def install() -> None:
    if getattr(ResourceGroupsTaggingAPIBackend, _MARKER, False):
        return
    ResourceGroupsTaggingAPIBackend._get_resources_generator = _with_rest_apis
    setattr(ResourceGroupsTaggingAPIBackend, _MARKER, True)


def rest_api_arn(region: str, api_id: str) -> str:
    return f"arn:{get_partition(region)}:apigateway:{region}::/restapis/{api_id}"


def _with_rest_apis(
    self: ResourceGroupsTaggingAPIBackend,
    tag_filters: list[dict[str, Any]] | None = None,
    resource_type_filters: list[str] | None = None,
    resource_arn_list: list[str] | None = None,
) -> Iterator[TaggedResource]:
    yield from _original(self, tag_filters, resource_type_filters, resource_arn_list)
    if not match_resource_type(REST_API_RESOURCE_TYPE, resource_type_filters):
        return
    matches = make_tag_matcher(tag_filters)
    backend = apigateway_backends[self.account_id][self.region_name]
    for api in list(backend.apis.values()):
        arn = rest_api_arn(self.region_name, api.id)
        if not api.tags or not matches(api.tags) or (resource_arn_list and arn not in resource_arn_list):
            continue
        yield TaggedResource(arn=arn, tags=dict(api.tags), resource_type=REST_API_RESOURCE_TYPE)
